# Rules of the normalization family (placeholder: being written).
