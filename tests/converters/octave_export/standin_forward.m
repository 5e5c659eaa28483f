function X = standin_forward(layer, X, classic)
% One layer of the stand-in forward pass. X is C x B (features) or C x B x T (sequences).
[positional, options] = standin_split(layer.Args);
switch layer.Function
  case {'sequenceInputLayer', 'featureInputLayer'}
    mode = option(options, 'Normalization', 'none');
    switch mode
      case 'none'
      case 'zerocenter'
        X = X - double(options.Mean);
      case 'zscore'
        X = (X - double(options.Mean)) ./ double(options.StandardDeviation);
      otherwise
        error('standin:normalization', 'stand-in has no %s normalization', mode);
    end
  case 'lstmLayer'
    X = lstm(X, positional{1}, options, 1:4 * positional{1}, 1:positional{1}, false);
  case 'bilstmLayer'
    H = positional{1};
    forward = lstm(X, H, options, 1:4 * H, 1:H, false);
    backward = lstm(X, H, options, 4 * H + 1:8 * H, H + 1:2 * H, true);
    X = cat(1, forward, backward);
  case 'gruLayer'
    X = gru(X, positional{1}, options);
  case 'fullyConnectedLayer'
    W = double(options.Weights); b = double(options.Bias);
    shape = size(X); shape(1) = size(W, 1);
    X = reshape(W * reshape(X, size(X, 1), []) + b, shape);
  case 'reluLayer'
    X = max(X, 0);
  case 'tanhLayer'
    X = tanh(X);
  case 'sigmoidLayer'
    X = 1 ./ (1 + exp(-X));
  case 'softmaxLayer'
    E = exp(X - max(X, [], 1));
    X = E ./ sum(E, 1);
  case {'dropoutLayer', 'classificationLayer', 'regressionLayer'}
  otherwise
    error('standin:layer', 'the stand-in forward pass has no %s', layer.Function);
end
end

function value = option(options, name, default)
if isfield(options, name), value = options.(name); else, value = default; end
end

function y = gate(name, x)
switch name
  case 'sigmoid', y = 1 ./ (1 + exp(-x));
  case 'hard-sigmoid', y = max(0, min(1, 0.2 * x + 0.5));
  otherwise, error('standin:gate', 'unknown gate activation %s', name);
end
end

function y = state(name, x)
switch name
  case 'tanh', y = tanh(x);
  case 'softsign', y = x ./ (1 + abs(x));
  case 'relu', y = max(x, 0);
  otherwise, error('standin:state', 'unknown state activation %s', name);
end
end

function initial = start(options, name, rows, H, B)
if isfield(options, name)
  value = double(options.(name)); initial = repmat(value(rows), 1, B);
else
  initial = zeros(H, B);
end
end

function Y = lstm(X, H, options, rows, staterows, reverse)
% MATLAB's lstmLayer: gates i, f, g, o stacked in rows 1:H, H+1:2H, 2H+1:3H, 3H+1:4H.
W = double(options.InputWeights); W = W(rows, :);
R = double(options.RecurrentWeights); R = R(rows, :);
b = double(options.Bias); b = b(rows);
sf = option(options, 'StateActivationFunction', 'tanh');
gf = option(options, 'GateActivationFunction', 'sigmoid');
B = size(X, 2); T = size(X, 3);
h = start(options, 'HiddenState', staterows, H, B);
c = start(options, 'CellState', staterows, H, B);
Y = zeros(H, B, T);
steps = 1:T;
if reverse, steps = T:-1:1; end
for t = steps
  z = W * X(:, :, t) + R * h + b;
  i = gate(gf, z(1:H, :)); f = gate(gf, z(H + 1:2 * H, :));
  g = state(sf, z(2 * H + 1:3 * H, :)); o = gate(gf, z(3 * H + 1:4 * H, :));
  c = f .* c + i .* g;
  h = o .* state(sf, c);
  Y(:, :, t) = h;
end
if strcmp(option(options, 'OutputMode', 'sequence'), 'last')
  if reverse, Y = h; else, Y = Y(:, :, T); end
end
end

function Y = gru(X, H, options)
% MATLAB's gruLayer: rows r, z, candidate; Bias 3H, or [b_W; b_R] (6H) for
% 'recurrent-bias-after-multiplication'.
W = double(options.InputWeights); R = double(options.RecurrentWeights);
b = double(options.Bias);
mode = option(options, 'ResetGateMode', 'after-multiplication');
bW = b(1:3 * H); bR = zeros(3 * H, 1);
if numel(b) == 6 * H, bR = b(3 * H + 1:6 * H); end
sf = option(options, 'StateActivationFunction', 'tanh');
gf = option(options, 'GateActivationFunction', 'sigmoid');
B = size(X, 2); T = size(X, 3);
h = start(options, 'HiddenState', 1:H, H, B);
Y = zeros(H, B, T);
r_ = 1:H; z_ = H + 1:2 * H; c_ = 2 * H + 1:3 * H;
for t = 1:T
  x = X(:, :, t);
  r = gate(gf, W(r_, :) * x + bW(r_) + R(r_, :) * h + bR(r_));
  z = gate(gf, W(z_, :) * x + bW(z_) + R(z_, :) * h + bR(z_));
  if strcmp(mode, 'before-multiplication')
    candidate = state(sf, W(c_, :) * x + bW(c_) + R(c_, :) * (r .* h));
  else
    candidate = state(sf, W(c_, :) * x + bW(c_) + r .* (R(c_, :) * h + bR(c_)));
  end
  h = (1 - z) .* candidate + z .* h;
  Y(:, :, t) = h;
end
if strcmp(option(options, 'OutputMode', 'sequence'), 'last'), Y = h; end
end
