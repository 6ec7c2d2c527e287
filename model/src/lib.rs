//! vmsc model: the OpenVMS cluster protocols as pure Stateright actors.
pub mod dlm;
