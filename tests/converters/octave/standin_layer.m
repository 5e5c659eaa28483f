function s = standin_layer(name, type, varargin)
%STANDIN_LAYER A struct standing in for a MATLAB layer object under GNU Octave (which has no
%   Deep Learning Toolbox): Name, Class 'nnet.cnn.layer.<TYPE>', the properties every MATLAB
%   layer has (Description, Type, NumInputs, InputNames, NumOutputs, OutputNames) and the
%   given name-value pairs (MATLAB's public property names and value forms).
s = struct('Name', name, 'Class', ['nnet.cnn.layer.' type], 'Description', '', ...
           'Type', regexprep(type, 'Layer$', ''), 'NumInputs', 1, 'InputNames', {{'in'}}, ...
           'NumOutputs', 1, 'OutputNames', {{'out'}});
for k = 1:2:numel(varargin)
  s.(varargin{k}) = varargin{k + 1};
end
end
