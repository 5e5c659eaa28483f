function [positional, options] = standin_split(args)
% A recorded constructor call: the positional arguments before 'Name' (the build script
% writes 'Name' first), then the name-value pairs as a struct.
first = find(strcmp(args, 'Name'), 1);
if isempty(first), first = numel(args) + 1; end
positional = args(1:first - 1);
options = struct();
for k = first:2:numel(args)
  options.(args{k}) = args{k + 1};
end
end
