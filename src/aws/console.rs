//! Links to the AWS console. SCIM access tokens can only be generated and deleted there.

/// The IAM Identity Center console of `region`. From there: Settings → Identity source →
/// Actions → Manage provisioning → Access tokens (no stable deep link to that page is known).
pub fn console_url(region: &str) -> String {
    format!("https://{region}.console.aws.amazon.com/singlesignon/home?region={region}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn console_url_names_the_region_twice() {
        assert_eq!(
            console_url("eu-west-1"),
            "https://eu-west-1.console.aws.amazon.com/singlesignon/home?region=eu-west-1"
        );
    }
}
