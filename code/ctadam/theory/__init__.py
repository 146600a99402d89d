"""Theory: the stable (beta, gamma) region, the continuous-time model, norm dynamics."""
