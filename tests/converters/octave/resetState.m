function net = resetState(net)
%RESETSTATE Stand-in for MATLAB's resetState on the struct stand-ins of networks: the State
%   table's values go back to its InitialValue column (a stand-in column; MATLAB keeps the
%   initial values inside the layers), and every layer's HiddenState/CellState to zeros.
if isfield(net, 'State')
  net.State.Value = net.State.InitialValue;
end
for k = 1:numel(net.Layers)
  for name = {'HiddenState', 'CellState'}
    if isfield(net.Layers{k}, name{1})
      net.Layers{k}.(name{1}) = zeros(size(net.Layers{k}.(name{1})));
    end
  end
end
end
