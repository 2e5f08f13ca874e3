//! The `customer` aggregate's business rules, in the example domain (README.md#the-example-domain).
//!
//! This file is yours: `eventsmith service new` wrote it once, with default rules, and never
//! overwrites it. When the schemas gain a command or an event, the compiler names the method to
//! add to `CustomerRules` here.

use crate::generated::customer::commands::{ChangeEmail, RegisterCustomer};
use crate::generated::customer::{
    Customer, CustomerEmailChanged, CustomerEvent, CustomerRegistered, CustomerRules,
};
use eventsmith::Rejection;

/// The `customer` aggregate's rules: the service runs `CustomerAggregate<Rules>`. A customer
/// registers once; changing to the same email changes nothing.
pub struct Rules;

impl CustomerRules for Rules {
    fn decide_register_customer(
        state: Option<&Customer>,
        command: &RegisterCustomer,
    ) -> Result<Vec<CustomerEvent>, Rejection> {
        if state.is_some_and(|c| c.registered) {
            return Err(Rejection::new("the customer is already registered"));
        }
        Ok(vec![
            CustomerRegistered {
                email: command.email.clone(),
                name: command.name.clone(),
            }
            .into(),
        ])
    }

    fn decide_change_email(
        state: Option<&Customer>,
        command: &ChangeEmail,
    ) -> Result<Vec<CustomerEvent>, Rejection> {
        match state {
            Some(customer) if customer.registered => {
                if customer.email.as_ref() == Some(&command.email) {
                    return Ok(Vec::new());
                }
                Ok(vec![
                    CustomerEmailChanged {
                        email: command.email.clone(),
                    }
                    .into(),
                ])
            }
            _ => Err(Rejection::new("the customer is not registered")),
        }
    }

    fn apply_registered(state: &mut Option<Customer>, event: &CustomerRegistered) {
        *state = Some(Customer {
            email: Some(event.email.clone()),
            name: Some(event.name.clone()),
            registered: true,
            additional_properties: Default::default(),
        });
    }

    fn apply_email_changed(state: &mut Option<Customer>, event: &CustomerEmailChanged) {
        if let Some(customer) = state {
            customer.email = Some(event.email.clone());
        }
    }
}
