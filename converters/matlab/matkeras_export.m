function matkeras_export(net, filename, version)
%MATKERAS_EXPORT Write a network's learnables and states in matkeras's plain weight layout.
%   MATKERAS_EXPORT(NET, FILENAME) writes FILENAME (MAT-file v7) with one struct per layer
%   that has learnables or states, named layer_001, layer_002, ... in NET.Layers order, each
%   with fields Name, Class and the layer's MATLAB properties (InputWeights, RecurrentWeights,
%   Bias, HiddenState, CellState, InputProjector, OutputProjector, Weights, Offset, Scale,
%   TrainedMean, TrainedVariance, Mean, StandardDeviation, Min, Max), plus
%   matkeras_layout_version = 1. Read it in Python with
%   matkeras.converters.load_weights_mat(FILENAME, model).
%
%   MATKERAS_EXPORT(NET, FILENAME, '-v7.3') writes an HDF5-based MAT-file instead.
%
%   NET is anything with a Layers property or field (SeriesNetwork, DAGNetwork, dlnetwork,
%   a layer array, or a struct whose Layers is a cell array of structs, as the tests use).
%   dlarray values are written as their underlying numeric data.

if nargin < 3
  version = '-v7';
end
properties = {'InputWeights', 'RecurrentWeights', 'Bias', 'HiddenState', 'CellState', ...
              'InputProjector', 'OutputProjector', 'Weights', 'Offset', 'Scale', ...
              'TrainedMean', 'TrainedVariance', 'Mean', 'StandardDeviation', 'Min', 'Max'};
if isstruct(net) || isobject(net)
  if isfield(net, 'Layers') || isprop(net, 'Layers')
    layers = net.Layers;
  else
    layers = net;
  end
else
  layers = net;
end
out = struct();
out.matkeras_layout_version = 1;
count = 0;
for k = 1:numel(layers)
  if iscell(layers)
    layer = layers{k};
  else
    layer = layers(k);
  end
  if isstruct(layer) && isfield(layer, 'Class')
    layer_class = layer.Class;
  else
    layer_class = class(layer);
  end
  s = struct('Name', layer.Name, 'Class', layer_class);
  found = false;
  for p = 1:numel(properties)
    name = properties{p};
    if has_property(layer, name)
      value = layer.(name);
      if isa(value, 'dlarray')
        value = extractdata(value);
      end
      if ~isempty(value) && isnumeric(value)
        s.(name) = value;
        found = true;
      end
    end
  end
  if found
    count = count + 1;
    out.(sprintf('layer_%03d', count)) = s;
  end
end
save(filename, '-struct', 'out', version);
end

function tf = has_property(layer, name)
if isstruct(layer)
  tf = isfield(layer, name);
else
  tf = isprop(layer, name);
end
end
