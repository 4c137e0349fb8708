//! Nothing: this package only gathers its dependencies for the harnesses.
