//! Renders answers.
