//! SCIM schema model (RFC 7643 §2, §7) and the standard attribute catalogue (§4, §8.7).
//!
//! The catalogue holds the attribute definitions of the core User and Group schemas and the
//! enterprise User extension. A mapping file picks from it (and may declare its own
//! attributes); the result, a [`ResourceSchema`], is what `/Schemas` serves and what the
//! protocol layer validates against.

use serde_json::{Value, json};

pub const CORE_USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const CORE_GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const ENTERPRISE_USER: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// RFC 7643 §2.3 data types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttrType {
    String,
    Boolean,
    Decimal,
    Integer,
    DateTime,
    Binary,
    Reference,
    Complex,
}

impl AttrType {
    pub fn as_str(self) -> &'static str {
        match self {
            AttrType::String => "string",
            AttrType::Boolean => "boolean",
            AttrType::Decimal => "decimal",
            AttrType::Integer => "integer",
            AttrType::DateTime => "dateTime",
            AttrType::Binary => "binary",
            AttrType::Reference => "reference",
            AttrType::Complex => "complex",
        }
    }
    pub fn parse(s: &str) -> Option<AttrType> {
        Some(match s {
            "string" => AttrType::String,
            "boolean" => AttrType::Boolean,
            "decimal" => AttrType::Decimal,
            "integer" => AttrType::Integer,
            "dateTime" => AttrType::DateTime,
            "binary" => AttrType::Binary,
            "reference" => AttrType::Reference,
            "complex" => AttrType::Complex,
            _ => return None,
        })
    }
}

/// RFC 7643 §7 `mutability`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mutability {
    ReadOnly,
    ReadWrite,
    Immutable,
    WriteOnly,
}

impl Mutability {
    pub fn as_str(self) -> &'static str {
        match self {
            Mutability::ReadOnly => "readOnly",
            Mutability::ReadWrite => "readWrite",
            Mutability::Immutable => "immutable",
            Mutability::WriteOnly => "writeOnly",
        }
    }
    pub fn parse(s: &str) -> Option<Mutability> {
        Some(match s {
            "readOnly" => Mutability::ReadOnly,
            "readWrite" => Mutability::ReadWrite,
            "immutable" => Mutability::Immutable,
            "writeOnly" => Mutability::WriteOnly,
            _ => return None,
        })
    }
    /// Whether a client may supply a value (on create at least).
    pub fn writable(self) -> bool {
        !matches!(self, Mutability::ReadOnly)
    }
}

/// RFC 7643 §7 `returned`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Returned {
    Always,
    Never,
    Default,
    Request,
}

impl Returned {
    pub fn as_str(self) -> &'static str {
        match self {
            Returned::Always => "always",
            Returned::Never => "never",
            Returned::Default => "default",
            Returned::Request => "request",
        }
    }
    pub fn parse(s: &str) -> Option<Returned> {
        Some(match s {
            "always" => Returned::Always,
            "never" => Returned::Never,
            "default" => Returned::Default,
            "request" => Returned::Request,
            _ => return None,
        })
    }
}

/// RFC 7643 §7 `uniqueness`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Uniqueness {
    None,
    Server,
    Global,
}

impl Uniqueness {
    pub fn as_str(self) -> &'static str {
        match self {
            Uniqueness::None => "none",
            Uniqueness::Server => "server",
            Uniqueness::Global => "global",
        }
    }
}

/// One attribute definition (RFC 7643 §7).
#[derive(Debug, Clone, PartialEq)]
pub struct AttributeDef {
    pub name: String,
    pub kind: AttrType,
    pub multi_valued: bool,
    pub description: String,
    pub required: bool,
    pub case_exact: bool,
    pub mutability: Mutability,
    pub returned: Returned,
    pub uniqueness: Uniqueness,
    pub canonical_values: Vec<String>,
    pub reference_types: Vec<String>,
    pub sub_attributes: Vec<AttributeDef>,
}

impl AttributeDef {
    fn new(name: &str, kind: AttrType, description: &str) -> Self {
        AttributeDef {
            name: name.to_owned(),
            kind,
            multi_valued: false,
            description: description.to_owned(),
            required: false,
            case_exact: false,
            mutability: Mutability::ReadWrite,
            returned: Returned::Default,
            uniqueness: Uniqueness::None,
            canonical_values: Vec::new(),
            reference_types: Vec::new(),
            sub_attributes: Vec::new(),
        }
    }
    fn string(name: &str, description: &str) -> Self {
        Self::new(name, AttrType::String, description)
    }
    fn boolean(name: &str, description: &str) -> Self {
        Self::new(name, AttrType::Boolean, description)
    }
    fn reference(name: &str, types: &[&str], description: &str) -> Self {
        let mut a = Self::new(name, AttrType::Reference, description);
        a.reference_types = types.iter().map(|t| (*t).to_owned()).collect();
        a
    }
    fn complex(name: &str, description: &str, subs: Vec<AttributeDef>) -> Self {
        let mut a = Self::new(name, AttrType::Complex, description);
        a.sub_attributes = subs;
        a
    }
    fn multi(mut self) -> Self {
        self.multi_valued = true;
        self
    }
    fn required(mut self) -> Self {
        self.required = true;
        self
    }
    fn case_exact(mut self) -> Self {
        self.case_exact = true;
        self
    }
    fn mutability(mut self, m: Mutability) -> Self {
        self.mutability = m;
        self
    }
    fn returned(mut self, r: Returned) -> Self {
        self.returned = r;
        self
    }
    fn unique(mut self) -> Self {
        self.uniqueness = Uniqueness::Server;
        self
    }
    fn canonical(mut self, values: &[&str]) -> Self {
        self.canonical_values = values.iter().map(|v| (*v).to_owned()).collect();
        self
    }

    /// The sub-attribute named `name`, compared case-insensitively (RFC 7643 §2.1).
    pub fn sub(&self, name: &str) -> Option<&AttributeDef> {
        self.sub_attributes.iter().find(|s| s.name.eq_ignore_ascii_case(name))
    }

    /// The `/Schemas` representation (RFC 7643 §7).
    pub fn to_json(&self) -> Value {
        let mut v = json!({
            "name": self.name,
            "type": self.kind.as_str(),
            "multiValued": self.multi_valued,
            "description": self.description,
            "required": self.required,
            "caseExact": self.case_exact,
            "mutability": self.mutability.as_str(),
            "returned": self.returned.as_str(),
            "uniqueness": self.uniqueness.as_str(),
        });
        if !self.canonical_values.is_empty() {
            v["canonicalValues"] = json!(self.canonical_values);
        }
        if self.kind == AttrType::Reference {
            v["referenceTypes"] = json!(self.reference_types);
        }
        if self.kind == AttrType::Complex {
            v["subAttributes"] = Value::Array(self.sub_attributes.iter().map(|s| s.to_json()).collect());
        }
        v
    }
}

/// One schema (core or extension) with the attributes it exposes.
#[derive(Debug, Clone, PartialEq)]
pub struct SchemaDef {
    pub id: String,
    pub name: String,
    pub description: String,
    pub attributes: Vec<AttributeDef>,
}

impl SchemaDef {
    pub fn attribute(&self, name: &str) -> Option<&AttributeDef> {
        self.attributes.iter().find(|a| a.name.eq_ignore_ascii_case(name))
    }

    /// The `/Schemas/{id}` representation (RFC 7643 §7, §8.7.1).
    pub fn to_json(&self, base_url: &str) -> Value {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "attributes": self.attributes.iter().map(AttributeDef::to_json).collect::<Vec<_>>(),
            "meta": {
                "resourceType": "Schema",
                "location": format!("{base_url}/Schemas/{}", self.id),
            }
        })
    }
}

/// A resource type's schemas: its core schema and the extensions it carries.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceSchema {
    pub core: SchemaDef,
    pub extensions: Vec<SchemaDef>,
}

/// Where a resolved attribute lives.
#[derive(Debug, Clone, Copy)]
pub struct Resolved<'a> {
    /// `None` for the core schema, else the extension schema.
    pub extension: Option<&'a SchemaDef>,
    pub attr: &'a AttributeDef,
    pub sub: Option<&'a AttributeDef>,
}

impl<'a> Resolved<'a> {
    /// The definition at the end of the path (the sub-attribute when there is one).
    pub fn leaf(&self) -> &'a AttributeDef {
        self.sub.unwrap_or(self.attr)
    }
}

impl ResourceSchema {
    /// The schema with this URN, core or extension, compared case-insensitively.
    pub fn schema(&self, urn: &str) -> Option<&SchemaDef> {
        std::iter::once(&self.core)
            .chain(&self.extensions)
            .find(|s| s.id.eq_ignore_ascii_case(urn))
    }

    pub fn extension(&self, urn: &str) -> Option<&SchemaDef> {
        self.extensions.iter().find(|s| s.id.eq_ignore_ascii_case(urn))
    }

    /// Resolves `[urn:]attr[.sub]`. Without a URN the core schema is searched first, then
    /// the extensions (RFC 7644 §3.10 allows unqualified names when they are unambiguous).
    pub fn resolve(&self, urn: Option<&str>, attr: &str, sub: Option<&str>) -> Option<Resolved<'_>> {
        let (extension, def) = match urn {
            Some(u) if u.eq_ignore_ascii_case(&self.core.id) => (None, self.core.attribute(attr)?),
            Some(u) => {
                let ext = self.extension(u)?;
                (Some(ext), ext.attribute(attr)?)
            }
            None => match self.core.attribute(attr).or_else(|| common_attribute(attr)) {
                Some(def) => (None, def),
                None => self
                    .extensions
                    .iter()
                    .find_map(|e| e.attribute(attr).map(|d| (Some(e), d)))?,
            },
        };
        let sub_def = match sub {
            Some(s) => Some(def.sub(s)?),
            None => None,
        };
        Some(Resolved {
            extension,
            attr: def,
            sub: sub_def,
        })
    }

    /// All schema URNs, core first.
    pub fn urns(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.core.id.as_str()).chain(self.extensions.iter().map(|e| e.id.as_str()))
    }
}

/// Attributes every resource has (RFC 7643 §3.1), which are not part of any schema's list.
pub fn common_attribute(name: &str) -> Option<&'static AttributeDef> {
    COMMON
        .get_or_init(common_attributes)
        .iter()
        .find(|a| a.name.eq_ignore_ascii_case(name))
}

static COMMON: std::sync::OnceLock<Vec<AttributeDef>> = std::sync::OnceLock::new();

fn common_attributes() -> Vec<AttributeDef> {
    use Mutability::*;
    let dt = |n: &str, d: &str| AttributeDef::new(n, AttrType::DateTime, d).mutability(ReadOnly);
    vec![
        AttributeDef::string("id", "Unique identifier assigned by the service provider.")
            .case_exact()
            .mutability(ReadOnly)
            .returned(Returned::Always)
            .unique(),
        AttributeDef::string("externalId", "Identifier assigned by the provisioning client.").case_exact(),
        AttributeDef::complex(
            "meta",
            "Resource metadata.",
            vec![
                AttributeDef::string("resourceType", "The resource type.")
                    .case_exact()
                    .mutability(ReadOnly),
                dt("created", "When the resource was created."),
                dt("lastModified", "When the resource was last modified."),
                AttributeDef::reference("location", &["uri"], "The resource's URI.")
                    .case_exact()
                    .mutability(ReadOnly),
                AttributeDef::string("version", "The resource's version (weak ETag).")
                    .case_exact()
                    .mutability(ReadOnly),
            ],
        )
        .mutability(ReadOnly),
    ]
}

fn multi_valued_sub(kind_values: &[&str], value: AttributeDef) -> Vec<AttributeDef> {
    vec![
        value,
        AttributeDef::string("display", "A human-readable name, primarily used for display."),
        AttributeDef::string("type", "A label indicating the attribute's function.").canonical(kind_values),
        AttributeDef::boolean("primary", "Whether this is the preferred value."),
    ]
}

/// The RFC 7643 §4.1 User schema, every attribute.
pub fn core_user() -> SchemaDef {
    use Mutability::*;
    let s = AttributeDef::string;
    let name = AttributeDef::complex(
        "name",
        "The components of the user's real name.",
        vec![
            s("formatted", "The full name, formatted for display."),
            s("familyName", "The family name."),
            s("givenName", "The given name."),
            s("middleName", "The middle name(s)."),
            s("honorificPrefix", "The honorific prefix(es)."),
            s("honorificSuffix", "The honorific suffix(es)."),
        ],
    );
    let address = AttributeDef::complex(
        "addresses",
        "A physical mailing address for this user.",
        vec![
            s("formatted", "The full mailing address."),
            s("streetAddress", "The street address."),
            s("locality", "The city or locality."),
            s("region", "The state or region."),
            s("postalCode", "The zip code or postal code."),
            s("country", "The country name (ISO 3166-1 alpha-2)."),
            s("type", "A label indicating the address's function.").canonical(&["work", "home", "other"]),
            AttributeDef::boolean("primary", "Whether this is the preferred address."),
        ],
    )
    .multi();
    let group_ref = AttributeDef::complex(
        "groups",
        "A list of groups to which the user belongs.",
        vec![
            s("value", "The identifier of the group.").mutability(ReadOnly),
            AttributeDef::reference("$ref", &["User", "Group"], "The URI of the group.").mutability(ReadOnly),
            s("display", "The group's display name.").mutability(ReadOnly),
            s("type", "How the membership was derived.")
                .canonical(&["direct", "indirect"])
                .mutability(ReadOnly),
        ],
    )
    .multi()
    .mutability(ReadOnly);
    let plain_multi = |n: &str, d: &str, kinds: &[&str]| {
        AttributeDef::complex(n, d, multi_valued_sub(kinds, s("value", "The value."))).multi()
    };
    SchemaDef {
        id: CORE_USER.to_owned(),
        name: "User".to_owned(),
        description: "User Account".to_owned(),
        attributes: vec![
            s("userName", "Unique identifier for the user, used to authenticate.")
                .required()
                .unique(),
            name,
            s("displayName", "The name of the user, suitable for display."),
            s("nickName", "The casual way to address the user."),
            AttributeDef::reference("profileUrl", &["external"], "A URI to the user's online profile."),
            s("title", "The user's title."),
            s("userType", "The relationship between the organization and the user."),
            s("preferredLanguage", "The user's preferred written or spoken language."),
            s("locale", "The user's default location for localization."),
            s("timezone", "The user's time zone (IANA name)."),
            AttributeDef::boolean("active", "The user's administrative status."),
            s("password", "The user's cleartext password.")
                .mutability(WriteOnly)
                .returned(Returned::Never),
            plain_multi("emails", "Email addresses for the user.", &["work", "home", "other"]),
            plain_multi(
                "phoneNumbers",
                "Phone numbers for the user.",
                &["work", "home", "mobile", "fax", "pager", "other"],
            ),
            plain_multi("ims", "Instant messaging addresses for the user.", &[]),
            plain_multi("photos", "URLs of photos of the user.", &["photo", "thumbnail"]),
            address,
            group_ref,
            plain_multi("entitlements", "A list of entitlements for the user.", &[]),
            plain_multi("roles", "A list of roles for the user.", &[]),
            plain_multi("x509Certificates", "A list of certificates issued to the user.", &[]),
        ],
    }
}

/// The RFC 7643 §4.2 Group schema.
pub fn core_group() -> SchemaDef {
    let members = AttributeDef::complex(
        "members",
        "A list of members of the group.",
        vec![
            AttributeDef::string("value", "The identifier of the member.").mutability(Mutability::Immutable),
            AttributeDef::reference("$ref", &["User", "Group"], "The URI of the member.")
                .mutability(Mutability::Immutable),
            AttributeDef::string("display", "The member's display name.").mutability(Mutability::ReadOnly),
            AttributeDef::string("type", "The type of member.")
                .canonical(&["User", "Group"])
                .mutability(Mutability::Immutable),
        ],
    )
    .multi();
    SchemaDef {
        id: CORE_GROUP.to_owned(),
        name: "Group".to_owned(),
        description: "Group".to_owned(),
        attributes: vec![
            AttributeDef::string("displayName", "A human-readable name for the group.").required(),
            members,
        ],
    }
}

/// The RFC 7643 §4.3 enterprise User extension.
pub fn enterprise_user() -> SchemaDef {
    let s = AttributeDef::string;
    SchemaDef {
        id: ENTERPRISE_USER.to_owned(),
        name: "EnterpriseUser".to_owned(),
        description: "Enterprise User".to_owned(),
        attributes: vec![
            s(
                "employeeNumber",
                "Numeric or alphanumeric identifier assigned to a person.",
            ),
            s("costCenter", "Identifies the name of a cost center."),
            s("organization", "Identifies the name of an organization."),
            s("division", "Identifies the name of a division."),
            s("department", "Identifies the name of a department."),
            AttributeDef::complex(
                "manager",
                "The user's manager.",
                vec![
                    s("value", "The id of the manager's SCIM resource."),
                    AttributeDef::reference("$ref", &["User"], "The URI of the manager's SCIM resource."),
                    s("displayName", "The manager's display name.").mutability(Mutability::ReadOnly),
                ],
            ),
        ],
    }
}

/// The catalogue entry for a well-known schema URN.
pub fn standard_schema(urn: &str) -> Option<SchemaDef> {
    if urn.eq_ignore_ascii_case(CORE_USER) {
        Some(core_user())
    } else if urn.eq_ignore_ascii_case(CORE_GROUP) {
        Some(core_group())
    } else if urn.eq_ignore_ascii_case(ENTERPRISE_USER) {
        Some(enterprise_user())
    } else {
        None
    }
}

/// Short names accepted in mapping files for the standard schemas.
pub fn schema_alias(name: &str) -> Option<&'static str> {
    match name {
        "User" | "user" => Some(CORE_USER),
        "Group" | "group" => Some(CORE_GROUP),
        "enterprise" | "EnterpriseUser" => Some(ENTERPRISE_USER),
        _ => None,
    }
}

/// Schemas the unit tests of the protocol layer share.
#[cfg(test)]
pub(crate) mod fixtures {
    use super::*;

    /// The User resource type with the enterprise extension.
    pub(crate) fn user_schema() -> ResourceSchema {
        ResourceSchema {
            core: core_user(),
            extensions: vec![enterprise_user()],
        }
    }

    /// The Group resource type.
    pub(crate) fn group_schema() -> ResourceSchema {
        ResourceSchema {
            core: core_group(),
            extensions: vec![],
        }
    }
}
