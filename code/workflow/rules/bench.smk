# Speed of KAdam against torch.optim.Adam (issue: foundation). Owned by the optimizer work.
