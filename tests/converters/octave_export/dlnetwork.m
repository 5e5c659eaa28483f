function net = dlnetwork(layers)
% Stand-in: a layer array or a layerGraph stand-in, recorded.
net = standin_network('dlnetwork', layers);
end
