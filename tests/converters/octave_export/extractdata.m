function X = extractdata(X)
end
