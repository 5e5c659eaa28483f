function matkeras_export(net, filename, version)
%MATKERAS_EXPORT Write a network's layers and connections in matkeras's plain layout.
%   MATKERAS_EXPORT(NET, FILENAME) writes FILENAME (MAT-file v7) in matkeras's plain layout,
%   version 2: plain structs, cell arrays of char, numbers and logicals only (no MATLAB
%   objects), so that scipy.io.loadmat, h5py (for -v7.3) or any MAT-file reader can read it.
%   Use it for networks the Python reader cannot decode from a file saved with `save`
%   (MATLAB objects in v7.3 files, ...). Read it in Python with
%       model = matkeras.converters.load_matlab_network(FILENAME)
%   which rebuilds the whole network, or with load_weights_mat(FILENAME, model) into a
%   network already built with matkeras layers.
%
%   MATKERAS_EXPORT(NET, FILENAME, '-v7.3') writes an HDF5-based MAT-file instead.
%
%   NET is a SeriesNetwork, DAGNetwork, dlnetwork, LayerGraph or a layer array (or a struct
%   with a Layers field holding a cell array of structs with Name and Class fields, which is
%   how the tests stand in for MATLAB's objects under GNU Octave).
%
%   The file holds these variables:
%     matkeras_layout_version  2
%     NetworkClass     'SeriesNetwork', 'DAGNetwork', 'dlnetwork', 'LayerGraph' or 'LayerArray'
%     NetworkVariable  the name of the variable passed as NET ('' for an expression)
%     layer_001, layer_002, ...  one struct per layer of NET.Layers, in that order, for every
%                      layer (also those without learnables): Name, Class (the layer's class,
%                      e.g. 'nnet.cnn.layer.LSTMLayer') and every public property whose value
%                      is plain data: numbers and logicals as they are (dlarray and gpuArray
%                      values as their numeric data), strings as char, string arrays and
%                      categoricals as cell arrays of char, function handles as their text
%                      (func2str). Properties holding other objects are left out.
%                      A dlnetwork's State table (NET.State) gives the values of its layers'
%                      state parameters (HiddenState, CellState). Recurrent layers also get
%                      InitialHiddenState/InitialCellState: the layer's own value where it has
%                      one, else the state after resetState(NET).
%     Connections      struct with Source and Destination: n x 1 cell arrays of 'layer' or
%                      'layer/port' (NET.Connections; for a SeriesNetwork or a layer array,
%                      the chain of the layers in order)
%     InputNames, OutputNames  NET.InputNames / NET.OutputNames (cell arrays of char; empty
%                      for a layer array)
%     Initialized      NET.Initialized (dlnetwork only)
%
%   Files of layout version 1 (learnables and states only, written by earlier versions of this
%   function) are still read by load_weights_mat.

if nargin < 3
  version = '-v7';
end
try
  variable = inputname(1);
catch
  variable = '';
end
[layers, network_class] = network_layers(net);
states = cell(0, 3);
if strcmp(network_class, 'dlnetwork')
  states = network_states(net);
end
initial = initial_states(net, network_class, numel(layers));
out = struct();
out.matkeras_layout_version = 2;
out.NetworkClass = network_class;
out.NetworkVariable = char(variable);
names = cell(numel(layers), 1);
for k = 1:numel(layers)
  s = layer_struct(layer_at(layers, k), states, initial{k});
  names{k} = s.Name;
  out.(sprintf('layer_%03d', k)) = s;
end
[source, destination] = connections_of(net, names, network_class);
out.Connections = struct('Source', {source}, 'Destination', {destination});
out.InputNames = {};
out.OutputNames = {};
if ~strcmp(network_class, 'LayerArray')
  out.InputNames = names_property(net, 'InputNames');
  out.OutputNames = names_property(net, 'OutputNames');
end
if strcmp(network_class, 'dlnetwork') && has_property(net, 'Initialized')
  out.Initialized = logical(net.Initialized);
end
save(filename, '-struct', 'out', version);
end

function [layers, network_class] = network_layers(net)
% The layers of NET and the kind of container it is.
if isstruct(net) && isfield(net, 'Layers')
  layers = net.Layers;
  if isfield(net, 'NetworkClass')
    network_class = net.NetworkClass;
  elseif isfield(net, 'Connections')
    network_class = 'LayerGraph';
  else
    network_class = 'LayerArray';
  end
elseif has_property(net, 'Layers')
  layers = net.Layers;
  network_class = class(net);
  if strcmp(network_class, 'nnet.cnn.LayerGraph')
    network_class = 'LayerGraph';
  end
else
  layers = net;
  network_class = 'LayerArray';
end
end

function layer = layer_at(layers, k)
if iscell(layers)
  layer = layers{k};
else
  layer = layers(k);
end
end

function s = layer_struct(layer, states, initial)
% One layer as a plain struct: Name, Class and every public property that is plain data; the
% network's State values for this layer (STATES rows) replace the layer's own.
s = struct();
s.Name = char(layer.Name);
if isstruct(layer)
  s.Class = 'struct';
  if isfield(layer, 'Class')
    s.Class = layer.Class;
  end
  names = fieldnames(layer);
else
  s.Class = class(layer);
  names = properties(layer);
end
for p = 1:numel(names)
  name = names{p};
  if any(strcmp(name, {'Name', 'Class'}))
    continue;
  end
  try
    value = layer.(name);
  catch
    continue;  % a property whose getter fails is left out
  end
  [plain, value] = plain_value(value);
  if plain
    s.(name) = value;
  end
end
for row = 1:size(states, 1)
  if strcmp(states{row, 1}, s.Name)
    s.(states{row, 2}) = states{row, 3};
  end
end
% States a layer may keep as hidden properties (the initial state of a dlnetwork's layer).
for extra = {'InitialHiddenState', 'InitialCellState'}
  name = extra{1};
  if ~isfield(s, name)
    try
      [plain, value] = plain_value(layer.(name));
      if plain
        s.(name) = value;
      end
    catch
    end
  end
end
if isstruct(initial)
  for extra = fieldnames(initial)'
    if ~isfield(s, extra{1})
      s.(extra{1}) = initial.(extra{1});
    end
  end
end
end

function [plain, value] = plain_value(value)
% The value as plain MAT-file data, or plain = false when it is some other object.
plain = true;
if isa(value, 'dlarray')
  value = extractdata(value);
end
if isa(value, 'gpuArray')
  value = gather(value);
end
if isnumeric(value)
  plain = isreal(value);
elseif islogical(value) || ischar(value)
  return;
elseif isa(value, 'string')
  if isscalar(value)
    value = char(value);
  else
    value = cellstr(value);
  end
elseif isa(value, 'categorical')
  value = cellstr(value);
elseif isa(value, 'function_handle')
  value = func2str(value);
elseif iscell(value)
  plain = iscellstr(value);
else
  plain = false;
end
end

function initial = initial_states(net, network_class, count)
% {k}: struct with InitialHiddenState/InitialCellState of layer k after resetState(NET): from
% the reset network's State (dlnetwork), else from its layers' HiddenState/CellState.
initial = cell(count, 1);
if ~any(strcmp(network_class, {'dlnetwork', 'SeriesNetwork', 'DAGNetwork'}))
  return;
end
try
  reset = resetState(net);
catch
  return;  % no resetState for this network (the layers' own values are used)
end
layers = network_layers(reset);
states = network_states(reset);
for k = 1:min(count, numel(layers))
  layer = layer_at(layers, k);
  for state = {'HiddenState', 'CellState'}
    value = [];
    for row = 1:size(states, 1)
      if strcmp(states{row, 1}, char(layer.Name)) && strcmp(states{row, 2}, state{1})
        value = states{row, 3};
      end
    end
    if isempty(value) && has_property(layer, state{1})
      [plain, value] = plain_value(layer.(state{1}));
      if ~plain
        value = [];
      end
    end
    if ~isempty(value)
      initial{k}.(['Initial' state{1}]) = value;
    end
  end
end
end

function states = network_states(net)
% NET.State (a dlnetwork's table of Layer, Parameter, Value) as rows {layer, parameter, value};
% none for other networks.
states = cell(0, 3);
if ~has_property(net, 'State')
  return;
end
try
  state_table = net.State;
  layer_names = text_cells(state_table.Layer);
  parameters = text_cells(state_table.Parameter);
  for row = 1:numel(layer_names)
    [plain, value] = plain_value(state_table.Value{row});
    if plain
      states(end + 1, :) = {layer_names{row}, parameters{row}, value};
    end
  end
catch
  states = cell(0, 3);  % not the table a dlnetwork has: the layers' own values are used
end
end

function [source, destination] = connections_of(net, names, network_class)
% NET.Connections as n x 1 cell arrays of char; a chain for SeriesNetwork and layer arrays.
if ~any(strcmp(network_class, {'SeriesNetwork', 'LayerArray'})) ...
    && has_property(net, 'Connections')
  wiring = net.Connections;  % a table (a struct in the Octave stand-ins)
  source = reshape(text_cells(wiring.Source), [], 1);
  destination = reshape(text_cells(wiring.Destination), [], 1);
else
  source = reshape(names(1:end - 1), [], 1);
  destination = reshape(names(2:end), [], 1);
end
end

function cells = text_cells(value)
[~, cells] = plain_value(value);
if ischar(cells)
  cells = {cells};
end
end

function names = names_property(net, name)
names = {};
if has_property(net, name)
  [plain, value] = plain_value(net.(name));
  if plain
    names = reshape(text_cells(value), 1, []);
  end
end
end

function tf = has_property(thing, name)
% True when THING (a struct, or one object: not a layer array) has field or property NAME.
if isstruct(thing)
  tf = isfield(thing, name);
else
  tf = isobject(thing) && isscalar(thing) && isprop(thing, name);
end
end
