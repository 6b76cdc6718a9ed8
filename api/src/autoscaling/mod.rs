//! The `autoscaling/v1` group: Scale (the `scale` subresource body).

mod scale;

pub use scale::*;
