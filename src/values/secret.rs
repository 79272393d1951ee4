//! Secrets as types: a secret string (a session token, a login code, a binding, a refresh token,
//! a client secret, a configured key) is a newtype whose text comes out only through `expose()`,
//! and whose `Debug` names the type and hides the value, so a secret never reaches a log line or
//! a panic message by accident.

/// Declares a secret string type: `struct Name(String)` with `expose()` and a `Debug` that prints
/// `Name(** redacted **)`. Constructors and other methods are the declaring module's own.
macro_rules! secret {
    ($(#[$meta:meta])* $vis:vis struct $name:ident;) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq)]
        $vis struct $name(String);

        impl $name {
            /// The secret itself, for the one place that must use or hand it out.
            pub fn expose(&self) -> &str {
                &self.0
            }
        }

        impl ::std::fmt::Debug for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(concat!(stringify!($name), "(** redacted **)"))
            }
        }
    };
}

pub(crate) use secret;

#[cfg(test)]
mod tests {
    secret! {
        /// A test secret.
        struct Password;
    }

    #[test]
    fn debug_hides_the_value() {
        let p = Password("hunter2".into());
        assert_eq!(format!("{p:?}"), "Password(** redacted **)");
        assert_eq!(format!("{:?}", Some(&p)), "Some(Password(** redacted **))");
        assert_eq!(p.expose(), "hunter2");
    }
}
