# Rules of the paper family (placeholder: being written).
