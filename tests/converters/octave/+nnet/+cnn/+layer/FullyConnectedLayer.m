classdef FullyConnectedLayer
  %FULLYCONNECTEDLAYER Stand-in for MATLAB's nnet.cnn.layer.FullyConnectedLayer under GNU
  %   Octave: an object with public properties, one holding another object (left out of the
  %   export) and one hidden, so that matkeras_export's object path (class, properties) runs.
  properties
    Name = '';
    InputSize = 'auto';
    OutputSize = 1;
    Weights = [];
    Bias = [];
    WeightLearnRateFactor = 1;
    WeightL2Factor = 1;
    BiasLearnRateFactor = 1;
    BiasL2Factor = 0;
    WeightsInitializer = 'glorot';
    NumInputs = 1;
    InputNames = {'in'};
    NumOutputs = 1;
    OutputNames = {'out'};
    Options = [];  % an object (a containers.Map here): not plain data, left out
  end
  properties (Hidden)
    PrivateCache = 42;
  end
  methods
    function layer = FullyConnectedLayer(name, weights, bias)
      layer.Name = name;
      layer.Weights = weights;
      layer.Bias = bias;
      layer.OutputSize = size(weights, 1);
      layer.InputSize = size(weights, 2);
      layer.Options = containers.Map();
    end
  end
end
