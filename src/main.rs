//! The `symgrad` command line: a thin layer over the library.

fn main() {
    println!("symgrad {}", env!("CARGO_PKG_VERSION"));
}
