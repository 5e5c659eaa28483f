function varargout = predict(net, varargin)
% Stand-in for predict: an independent forward pass of the recorded layers, in double, from
% MATLAB's equations (chains of sequence/feature input, lstm, bilstm, gru, fully connected,
% relu, tanh, sigmoid, softmax, dropout and output layers). Sequence data is C x B x T
% (classic networks: a cell array of C x T sequences, features N x C).
X = varargin{1};
sequenceCell = iscell(X);
if sequenceCell
  X = cat(3, X{:});              % C x T x B
  X = permute(X, [1 3 2]);       % C x B x T
end
X = double(X);
if strcmp(net.Kind, 'classic') && ~sequenceCell && ismatrix(X)
  X = X.';                       % classic feature data: N x C
end
if ~isempty(net.Connections)
  error('standin:predict', 'the stand-in forward pass takes layer arrays only');
end
for k = 1:numel(net.Layers)
  X = standin_forward(net.Layers(k), X, strcmp(net.Kind, 'classic'));
end
if strcmp(net.Kind, 'classic')
  if ndims(X) == 3
    Y = cell(size(X, 2), 1);
    for n = 1:size(X, 2)
      Y{n} = permute(X(:, n, :), [1 3 2]);
    end
    X = Y;
  else
    X = X.';
  end
end
varargout = {X};
end
