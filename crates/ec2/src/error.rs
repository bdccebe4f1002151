//! EC2 API errors -> coffer errors: one line naming the resource, a kind
//! (and so an exit code, docs/EXIT-CODES.md).

use aws_sdk_ec2::error::{ProvideErrorMetadata, SdkError};
use coffer_core::{Error, Kind};

/// Maps an SDK error of `action` on `resource` (an instance, snapshot or
/// image id; or what was asked for) to a coffer error.
pub fn map_err<E, R>(e: SdkError<E, R>, action: &str, resource: &str) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    let (code, message) = match e.as_service_error() {
        Some(se) => (
            se.code().unwrap_or_default().to_string(),
            se.message().unwrap_or_default().to_string(),
        ),
        None => (String::new(), String::new()),
    };
    from_code(&code, &message, action, resource).unwrap_or_else(|| {
        let transient = matches!(e, SdkError::TimeoutError(_) | SdkError::DispatchFailure(_));
        let what = match &e {
            SdkError::DispatchFailure(_) => format!("{action}: cannot reach the EC2 endpoint"),
            SdkError::TimeoutError(_) => format!("{action}: EC2 request timed out"),
            SdkError::ConstructionFailure(_) => {
                format!("{action}: cannot build the EC2 request (missing region or credentials?)")
            }
            _ if !code.is_empty() => format!("{action} failed ({code}: {message})"),
            _ => format!("{action} failed"),
        };
        Error::at(Kind::Fatal, what, resource)
            .with_source(chain(&e))
            .transient(transient)
    })
}

/// The error for an EC2 error code, if it is one coffer explains.
pub fn from_code(code: &str, message: &str, action: &str, resource: &str) -> Option<Error> {
    let e = match code {
        "InvalidInstanceID.NotFound" | "InvalidInstanceID.Malformed" => {
            Error::at(Kind::NotFound, "no such instance", resource)
        }
        "InvalidSnapshot.NotFound" | "InvalidSnapshotID.Malformed" => {
            Error::at(Kind::NotFound, "no such snapshot", resource)
        }
        "InvalidAMIID.NotFound" | "InvalidAMIID.Malformed" | "InvalidAMIID.Unavailable" => {
            Error::at(Kind::NotFound, "no such image", resource)
        }
        "UnauthorizedOperation" | "AccessDenied" | "AuthFailure" => Error::at(
            Kind::Fatal,
            format!(
                "{action}: not allowed for these AWS credentials ({code}; see the IAM policy in docs/EC2.md)"
            ),
            resource,
        ),
        "InvalidSnapshot.InUse" => Error::at(
            Kind::Fatal,
            format!("snapshot is used by an image, not deleted ({message})"),
            resource,
        ),
        "IncorrectState" | "IncorrectInstanceState" => Error::at(
            Kind::Fatal,
            format!("{action}: wrong state ({message})"),
            resource,
        ),
        _ => return None,
    };
    Some(e)
}

/// The SDK error with its sources on one line (its Display is terse).
fn chain(e: &dyn std::error::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut s = e.source();
    while let Some(x) = s {
        parts.push(x.to_string());
        s = x.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_codes_name_the_resource() {
        let e = from_code("InvalidInstanceID.NotFound", "", "describe", "i-dead").unwrap();
        assert_eq!(e.to_string(), "no such instance: i-dead");
        assert_eq!(e.kind(), Kind::NotFound);
        let e = from_code("UnauthorizedOperation", "x", "create snapshots", "i-1").unwrap();
        assert!(
            e.to_string().starts_with("create snapshots: not allowed"),
            "{e}"
        );
        assert!(from_code("Throttling", "", "a", "b").is_none());
    }
}
