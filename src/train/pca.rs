//! PCA as the baseline, computed by symgrad: the covariance through a compiled graph (one
//! GEMM), its top eigenvectors by subspace iteration with Rayleigh–Ritz, then the test error
//! of reconstructing from `k` components, in the paper's metric.

use crate::data::Dataset;
use crate::{dims, Compiler, Error, Graph, ParamLayout, Scalar, TensorRef};

/// A fitted PCA: the mean and `k` orthonormal components (`[k, dim]` row-major).
#[derive(Clone, Debug)]
pub struct Pca {
    /// The data mean.
    pub mean: Vec<f64>,
    /// The components, strongest first.
    pub components: Vec<Vec<f64>>,
    /// Their variances.
    pub variances: Vec<f64>,
}

impl Pca {
    /// Fits `k` components to `data`.
    ///
    /// ```
    /// use symgrad::data::curves_like;
    /// use symgrad::train::Pca;
    /// let (train, test) = (curves_like::<f64>(300, 1), curves_like::<f64>(100, 2));
    /// let (e2, e6) = (Pca::fit(&train, 2)?.error(&test), Pca::fit(&train, 6)?.error(&test));
    /// assert!(e6 < e2); // more components, less error
    /// # Ok::<(), symgrad::Error>(())
    /// ```
    pub fn fit<T: Scalar>(data: &Dataset<T>, k: usize) -> Result<Pca, Error> {
        let (n, d) = (data.n, data.dim);
        let mut mean = vec![0.0; d];
        for i in 0..n {
            for (m, v) in mean.iter_mut().zip(data.row(i)) {
                *m += v.to_f64_lossless();
            }
        }
        mean.iter_mut().for_each(|m| *m /= n as f64);
        // Covariance C = (X - mean)^T (X - mean) / n through a compiled graph.
        let g = Graph::<f64>::new();
        let b = g.symbol("n");
        let x = g.input("X", dims![b, d]);
        let c = x.matmul_t(x, true, false) / x.numel(&[0]);
        let mut f = Compiler::new(&g, &ParamLayout::new())
            .inputs(&[x])
            .output(c)
            .build();
        let centred: Vec<f64> = (0..n)
            .flat_map(|i| {
                data.row(i)
                    .iter()
                    .zip(&mean)
                    .map(|(v, m)| v.to_f64_lossless() - m)
                    .collect::<Vec<_>>()
            })
            .collect();
        let shape = [n, d];
        f.run(&[], &[TensorRef::new(&shape, &centred)], None)?;
        let cov = f.output(0)?.data.to_vec();
        let k = k.min(d);
        // Subspace iteration on a block of k + 8 vectors.
        let p = (k + 8).min(d);
        let mut q: Vec<Vec<f64>> = (0..p)
            .map(|j| {
                (0..d)
                    .map(|i| (((i * 31 + j * 17) % 97) as f64 - 48.0) / 97.0)
                    .collect()
            })
            .collect();
        orthonormalize(&mut q);
        for _ in 0..300 {
            let z: Vec<Vec<f64>> = q.iter().map(|v| matvec(&cov, v, d)).collect();
            q = z;
            orthonormalize(&mut q);
        }
        // Rayleigh-Ritz: the small p x p problem, by Jacobi.
        let cq: Vec<Vec<f64>> = q.iter().map(|v| matvec(&cov, v, d)).collect();
        let mut h = vec![0.0; p * p];
        for a in 0..p {
            for b2 in 0..p {
                h[a * p + b2] = q[a].iter().zip(&cq[b2]).map(|(x, y)| x * y).sum();
            }
        }
        let (vals, vecs) = jacobi_eigen(&mut h, p);
        let mut order: Vec<usize> = (0..p).collect();
        order.sort_by(|&a, &b2| vals[b2].total_cmp(&vals[a]));
        let components = order[..k]
            .iter()
            .map(|&j| {
                (0..d)
                    .map(|i| (0..p).map(|a| vecs[a * p + j] * q[a][i]).sum())
                    .collect()
            })
            .collect();
        let variances = order[..k].iter().map(|&j| vals[j]).collect();
        Ok(Pca {
            mean,
            components,
            variances,
        })
    }

    /// The paper's metric for reconstructions from the components: mean over images of the
    /// summed squared error.
    pub fn error<T: Scalar>(&self, data: &Dataset<T>) -> f64 {
        let mut total = 0.0;
        let mut r = vec![0.0; data.dim];
        for i in 0..data.n {
            let c: Vec<f64> = data
                .row(i)
                .iter()
                .zip(&self.mean)
                .map(|(v, m)| v.to_f64_lossless() - m)
                .collect();
            r.copy_from_slice(&c);
            for comp in &self.components {
                let a: f64 = comp.iter().zip(&c).map(|(u, v)| u * v).sum();
                r.iter_mut().zip(comp).for_each(|(ri, u)| *ri -= a * u);
            }
            total += r.iter().map(|v| v * v).sum::<f64>();
        }
        total / data.n as f64
    }
}

fn matvec(a: &[f64], v: &[f64], d: usize) -> Vec<f64> {
    (0..d)
        .map(|i| {
            a[i * d..(i + 1) * d]
                .iter()
                .zip(v)
                .map(|(x, y)| x * y)
                .sum()
        })
        .collect()
}

/// Modified Gram-Schmidt, twice for stability.
fn orthonormalize(q: &mut [Vec<f64>]) {
    for _ in 0..2 {
        for j in 0..q.len() {
            for i in 0..j {
                let (a, b) = q.split_at_mut(j);
                let dot: f64 = a[i].iter().zip(&b[0]).map(|(x, y)| x * y).sum();
                b[0].iter_mut().zip(&a[i]).for_each(|(y, x)| *y -= dot * x);
            }
            let norm = q[j].iter().map(|x| x * x).sum::<f64>().sqrt().max(1e-300);
            q[j].iter_mut().for_each(|x| *x /= norm);
        }
    }
}

/// Cyclic Jacobi eigenvalue algorithm for a small symmetric matrix: (eigenvalues,
/// eigenvectors as columns of a row-major p x p matrix).
fn jacobi_eigen(a: &mut [f64], p: usize) -> (Vec<f64>, Vec<f64>) {
    let mut v = vec![0.0; p * p];
    (0..p).for_each(|i| v[i * p + i] = 1.0);
    for _ in 0..100 {
        let off: f64 = (0..p)
            .flat_map(|i| (0..p).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[i * p + j].powi(2))
            .sum();
        if off < 1e-22 {
            break;
        }
        for r in 0..p {
            for s in r + 1..p {
                let ars = a[r * p + s];
                if ars.abs() < 1e-300 {
                    continue;
                }
                let theta = (a[s * p + s] - a[r * p + r]) / (2.0 * ars);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let sn = t * c;
                for k in 0..p {
                    let (akr, aks) = (a[k * p + r], a[k * p + s]);
                    a[k * p + r] = c * akr - sn * aks;
                    a[k * p + s] = sn * akr + c * aks;
                }
                for k in 0..p {
                    let (ark, ask) = (a[r * p + k], a[s * p + k]);
                    a[r * p + k] = c * ark - sn * ask;
                    a[s * p + k] = sn * ark + c * ask;
                }
                for k in 0..p {
                    let (vkr, vks) = (v[k * p + r], v[k * p + s]);
                    v[k * p + r] = c * vkr - sn * vks;
                    v[k * p + s] = sn * vkr + c * vks;
                }
            }
        }
    }
    ((0..p).map(|i| a[i * p + i]).collect(), v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovers_the_principal_axes_of_made_data() {
        // Points along (1, 1, 0)/sqrt 2 with variance 9 and (0, 0, 1) with variance 1, plus a
        // little noise on (1, -1, 0).
        let mut x = Vec::new();
        for i in 0..2000 {
            let a = 3.0 * ((i as f64 * 0.7).sin() * std::f64::consts::SQRT_2);
            let b = (i as f64 * 1.3).cos() * std::f64::consts::SQRT_2;
            let e = 0.01 * (i as f64 * 2.9).sin();
            x.extend_from_slice(&[a / 2f64.sqrt() + e, a / 2f64.sqrt() - e, b]);
        }
        let d = Dataset {
            n: 2000,
            dim: 3,
            x,
            labels: None,
        };
        let p = Pca::fit(&d, 2).unwrap();
        let c0 = &p.components[0];
        assert!(
            (c0[0].abs() - std::f64::consts::FRAC_1_SQRT_2).abs() < 1e-2 && c0[2].abs() < 1e-2,
            "{c0:?}"
        );
        assert!((p.components[1][2].abs() - 1.0).abs() < 1e-2);
        assert!(p.variances[0] > p.variances[1]);
        // Two components leave only the small noise direction.
        assert!(p.error(&d) < 1e-3, "{}", p.error(&d));
    }
}
