# Rules of the theory family (placeholder: being written).
