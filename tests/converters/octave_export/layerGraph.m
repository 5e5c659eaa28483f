function g = layerGraph()
g = struct('Layers', struct('Function', {}, 'Args', {}), 'Connections', {{}});
end
