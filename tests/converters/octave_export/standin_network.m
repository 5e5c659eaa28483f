function net = standin_network(kind, layers)
if isfield(layers, 'Connections') && isfield(layers, 'Layers')
  net = struct('Kind', kind, 'Layers', layers.Layers, 'Connections', {layers.Connections});
else
  net = struct('Kind', kind, 'Layers', layers, 'Connections', {{}});
end
end
