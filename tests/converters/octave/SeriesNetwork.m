classdef SeriesNetwork
  %SERIESNETWORK Stand-in for MATLAB's SeriesNetwork under GNU Octave: an object with Layers
  %   (a cell array here; MATLAB's is a heterogeneous Layer array), InputNames and OutputNames,
  %   so that matkeras_export's path for network objects (class, isprop) runs.
  properties
    Layers = {};
    InputNames = {};
    OutputNames = {};
  end
  methods
    function net = SeriesNetwork(layers, input_names, output_names)
      net.Layers = layers;
      net.InputNames = input_names;
      net.OutputNames = output_names;
    end
  end
end
