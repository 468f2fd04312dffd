//! Models built with the public graph API only: the deep autoencoder.

pub mod autoencoder;
