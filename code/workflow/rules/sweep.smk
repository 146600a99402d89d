# Rules of the sweep family (placeholder: being written).
