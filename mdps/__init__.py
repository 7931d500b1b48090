"""mdps: the catalogue of finite MDPs, generators, the paper's environments, imports, exports."""
