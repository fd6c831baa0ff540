//! Whole-policy validation. (Being written.)

use crate::error::PolicyError;
use crate::model::RegionPolicy;

/// Checks a region policy before it is compiled or stored.
pub fn validate(_policy: &RegionPolicy) -> Result<(), PolicyError> {
    Ok(())
}
