//! Nothing: this package only gathers its dependencies for the accuracy harness.
