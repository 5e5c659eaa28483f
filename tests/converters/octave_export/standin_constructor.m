function L = standin_constructor(fn, args)
% Stand-in for a Deep Learning Toolbox layer constructor (GNU Octave has none): records the
% function name and every argument as given, positional and name-value, unchanged.
L = struct('Function', fn, 'Args', {args});
end
