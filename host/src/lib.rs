//! OmniCRM payments host: loads payment gateway components at run time and runs the
//! `omnicrm-pay` service around them.

pub mod service;
