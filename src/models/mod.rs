//! Models built with the public graph API only: the deep autoencoder (`autoencoder`), and
//! one of its encoder layers on its own as greedy pre-training trains it, as a shallow
//! autoencoder (`shallow`) or as an RBM (`rbm`).

pub mod autoencoder;
pub mod rbm;
pub mod shallow;
