//! `GET /storedPaymentMethods?shopperReference=&merchantAccount=` and
//! `DELETE /storedPaymentMethods/{storedPaymentMethodId}?shopperReference=&merchantAccount=`
//! (v71 spec: the list answers `{merchantAccount, shopperReference, storedPaymentMethods: [...]}`
//! as in example `get-storedPaymentMethods-success-200`; the deletion answers `204` with no body).
//! A deleted method is gone for good: paying with it is `800` "Contract not found".

use serde_json::{Value, json};

use crate::body::Params;
use crate::error::ApiError;
use crate::state::{State, StoredMethod};

fn required<'a>(params: &'a Params, key: &str) -> Result<&'a str, ApiError> {
    params.get(key).ok_or_else(|| {
        ApiError::unprocessable("000", format!("Required field '{key}' is not provided."))
    })
}

fn render(m: &StoredMethod) -> Value {
    json!({
        "brand": m.card.brand,
        "expiryMonth": format!("{:02}", m.card.expiry_month),
        "expiryYear": format!("{:02}", m.card.expiry_year % 100),
        "holderName": m.card.holder_name,
        "id": m.id,
        "lastFour": m.card.last_four(),
        "name": m.card.brand.to_uppercase(),
        "networkTxReference": m.network_tx_reference,
        "shopperReference": m.shopper_reference,
        "supportedRecurringProcessingModels": ["CardOnFile", "Subscription", "UnscheduledCardOnFile"],
        "supportedShopperInteractions": ["Ecommerce", "ContAuth"],
        "type": "scheme",
    })
}

fn checked<'a>(st: &State, params: &'a Params) -> Result<(&'a str, &'a str), ApiError> {
    let merchant = params.get("merchantAccount").unwrap_or("");
    if !st.accepts_merchant_account(merchant) {
        return Err(ApiError::invalid_merchant_account());
    }
    Ok((merchant, required(params, "shopperReference")?))
}

/// `GET /storedPaymentMethods`: the shopper's methods, oldest first.
pub fn list(st: &State, params: &Params) -> Result<Value, ApiError> {
    let (merchant, shopper) = checked(st, params)?;
    let methods: Vec<Value> = st
        .shoppers
        .get(&(merchant.to_string(), shopper.to_string()))
        .map(|ids| {
            ids.iter()
                .filter_map(|id| st.stored.get(id))
                .map(render)
                .collect()
        })
        .unwrap_or_default();
    Ok(json!({
        "merchantAccount": merchant,
        "shopperReference": shopper,
        "storedPaymentMethods": methods,
    }))
}

/// `DELETE /storedPaymentMethods/{id}`.
pub fn delete(st: &mut State, id: &str, params: &Params) -> Result<(), ApiError> {
    let (merchant, shopper) = checked(st, params)?;
    let owned = st
        .stored
        .get(id)
        .is_some_and(|m| m.merchant_account == merchant && m.shopper_reference == shopper);
    if !owned {
        return Err(ApiError::unprocessable("800", "Contract not found"));
    }
    st.stored.remove(id);
    if let Some(ids) = st
        .shoppers
        .get_mut(&(merchant.to_string(), shopper.to_string()))
    {
        ids.retain(|i| i != id);
    }
    Ok(())
}
