function g = addLayers(g, layers)
g.Layers = [g.Layers, layers];
end
