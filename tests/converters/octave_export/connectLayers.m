function g = connectLayers(g, source, destination)
g.Connections(end + 1, :) = {source, destination};
end
