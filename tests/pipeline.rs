//! The pipeline end to end on a small version: pre-train (RBMs, as in the paper), unroll,
//! fine-tune with the paper's minimize.m scheme, and beat PCA with as many components as
//! the code has units; ReLU layers pre-train without diverging. (MNIST as read from the
//! IDX files: tests/mnist.rs.)

use symgrad::data::{curves_like, Dataset};
use symgrad::models::autoencoder::{Autoencoder, Loss, Unit};
use symgrad::train::{
    unroll, Event, Finetune, FinetuneConfig, Finetuner, Pca, PretrainConfig, Pretrainer,
};

/// `train` then `test` curves drawn with `seed`: the first `train` images and the rest.
fn curves_split(train: usize, test: usize, seed: u64) -> (Dataset<f32>, Dataset<f32>) {
    let all = curves_like::<f32>(train + test, seed);
    let rest = Dataset {
        n: test,
        dim: 784,
        x: all.x[train * 784..].to_vec(),
        labels: None,
    };
    (all.head(train), rest)
}

#[test]
fn pretrain_unroll_finetune_beats_pca() {
    let (train, test) = curves_split(3000, 500, 11);
    let ae = Autoencoder {
        sizes: vec![784, 128, 32, 6],
        units: vec![Unit::Logistic, Unit::Logistic, Unit::Linear],
        output_unit: Unit::Logistic,
        tied: false,
    };
    let mut pre = Pretrainer::<f32>::new(&ae, PretrainConfig::paper(4));
    let mut epochs_seen = 0;
    for _ in 0..ae.depth() {
        pre.train_next_layer(
            &train,
            None,
            &mut |e| {
                if let Event::PretrainEpoch { error, .. } = e {
                    assert!(error.is_finite());
                    epochs_seen += 1;
                }
                std::ops::ControlFlow::Continue(())
            },
            &mut |_, _, _, _| Ok(()),
        )
        .unwrap();
    }
    assert_eq!(epochs_seen, 12);
    let mut ft = Finetuner::<f32>::new(&ae, Loss::CrossEntropy);
    let mut x = unroll(&ae, &pre.layers, &ft.layout).unwrap();
    let unrolled = ft.error(&x, &test).unwrap();
    let cfg = FinetuneConfig {
        method: Finetune::MinimizeM {
            batch: 500,
            line_searches: 3,
        },
        epochs: 30,
        loss: Loss::CrossEntropy,
        seed: 5,
    };
    let records = ft
        .run(
            &mut x,
            &train,
            &test,
            &cfg,
            0,
            Vec::new(),
            &mut |_| std::ops::ControlFlow::Continue(()),
            &mut |_, _, _| Ok(()),
        )
        .unwrap();
    let last = records.last().unwrap();
    let pca = Pca::fit(&train, 6).unwrap().error(&test);
    println!(
        "test error: unrolled {unrolled:.2}, fine-tuned {:.2}; PCA(6) {pca:.2}",
        last.test_error
    );
    assert!(last.test_error < unrolled, "fine-tuning lowers the error");
    assert!(
        last.test_error < 0.85 * pca,
        "deep autoencoder {:.2} is not well below PCA {pca:.2}",
        last.test_error
    );
}

/// ReLU layers, with a linear code: the second and third RBMs (and shallow autoencoders) see
/// ReLU codes as visible units, unbounded, and train at the smaller learning rate for them.
/// At the rate for binary visible units the second layer's error went to 10^6 (RBM) or its
/// units died, the error frozen from the second epoch on (autoencoder), and the unrolled
/// network reconstructed far worse than the mean image (twice as badly, or more).
#[test]
fn relu_layers_pretrain_without_diverging() {
    let (train, test) = curves_split(2000, 500, 3);
    let ae = Autoencoder {
        sizes: vec![784, 64, 16, 4],
        units: vec![Unit::Relu, Unit::Relu, Unit::Linear],
        output_unit: Unit::Logistic,
        tied: false,
    };
    let mean_image = Pca::fit(&train, 0).unwrap().error(&test);
    for cfg in [PretrainConfig::paper(3), PretrainConfig::autoencoder(3)] {
        let mut pre = Pretrainer::<f32>::new(&ae, cfg.clone());
        let mut errors: Vec<Vec<f64>> = vec![Vec::new(); ae.depth()];
        for _ in 0..ae.depth() {
            pre.train_next_layer(
                &train,
                None,
                &mut |e| {
                    if let Event::PretrainEpoch { layer, error, .. } = e {
                        errors[*layer].push(*error);
                    }
                    std::ops::ControlFlow::Continue(())
                },
                &mut |_, _, _, _| Ok(()),
            )
            .unwrap();
        }
        let mut ft = Finetuner::<f32>::new(&ae, Loss::CrossEntropy);
        let x = unroll(&ae, &pre.layers, &ft.layout).unwrap();
        let unrolled = ft.error(&x, &test).unwrap();
        println!(
            "{:?}: errors by layer {errors:?}; unrolled {unrolled:.2}, mean image {mean_image:.2}",
            cfg.method
        );
        for (layer, e) in errors.iter().enumerate() {
            assert!(
                e.iter().all(|v| v.is_finite()),
                "{:?} layer {layer}: {e:?}",
                cfg.method
            );
            assert!(
                e[2] < 0.95 * e[1] && e[1] < e[0],
                "{:?} layer {layer} does not learn: {e:?}",
                cfg.method
            );
        }
        assert!(
            unrolled < 1.2 * mean_image,
            "{:?}: unrolled {unrolled:.2} against the mean image's {mean_image:.2}",
            cfg.method
        );
    }
}
