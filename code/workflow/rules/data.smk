# Rules of the data family (placeholder: being written).
