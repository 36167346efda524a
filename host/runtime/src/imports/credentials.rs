//! The `credentials` import: MACs computed by the host with a named secret, so webhook
//! signatures can be checked without the secret entering the guest.

use super::state::HostState;
use crate::contract::latest::bindings::omnicrm::payments::credentials;
use crate::contract::{CredentialError, MacAlgorithm};
use hmac::{Hmac, Mac};

impl credentials::Host for HostState {
    async fn compute_mac(
        &mut self,
        secret_name: String,
        algorithm: MacAlgorithm,
        message: Vec<u8>,
    ) -> Result<Vec<u8>, CredentialError> {
        let secret = self.shared.secrets.resolve(&secret_name)?;
        let key = secret.expose_secret().as_bytes();
        let mac = match algorithm {
            MacAlgorithm::HmacSha256 => {
                let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key)
                    .map_err(|_| CredentialError::Unavailable(secret_name.clone()))?;
                mac.update(&message);
                mac.finalize().into_bytes().to_vec()
            }
            MacAlgorithm::HmacSha512 => {
                let mut mac = Hmac::<sha2::Sha512>::new_from_slice(key)
                    .map_err(|_| CredentialError::Unavailable(secret_name.clone()))?;
                mac.update(&message);
                mac.finalize().into_bytes().to_vec()
            }
        };
        Ok(mac)
    }
}
