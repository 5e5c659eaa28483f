function net = assembleNetwork(layers)
% Stand-in: a classic network (SeriesNetwork/DAGNetwork), recorded.
net = standin_network('classic', layers);
end
