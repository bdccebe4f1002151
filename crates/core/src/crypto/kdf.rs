use crate::error::{Error, Result};
use crate::format::key::KdfParams;

/// Upper bounds accepted from a key file, so a damaged or hostile key file
/// cannot make us allocate unbounded memory.
const MAX_M_COST: u32 = 4 * 1024 * 1024; // 4 GiB
const MAX_T_COST: u32 = 64;
const MAX_P_COST: u32 = 64;

/// Checks a key file's salt and Argon2 parameters without running Argon2:
/// what [`derive_wrapping_key`] would refuse.
pub fn check_kdf_params(salt: &[u8], p: &KdfParams) -> Result<()> {
    params(salt, p).map(drop)
}

fn params(salt: &[u8], p: &KdfParams) -> Result<argon2::Params> {
    if p.m_cost > MAX_M_COST || p.t_cost > MAX_T_COST || p.p_cost > MAX_P_COST {
        return Err(Error::corrupt(
            "key file asks for out-of-range Argon2 parameters",
            "keys/",
        ));
    }
    if salt.len() < argon2::MIN_SALT_LEN {
        return Err(Error::corrupt("key salt is too short", "keys/"));
    }
    argon2::Params::new(p.m_cost, p.t_cost, p.p_cost, Some(32))
        .map_err(|e| Error::corrupt(format!("invalid Argon2 parameters ({e})"), "keys/"))
}

/// Derives the 32-byte key that wraps the master key from a password.
pub fn derive_wrapping_key(password: &[u8], salt: &[u8], p: &KdfParams) -> Result<[u8; 32]> {
    let params = params(salt, p)?;
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let mut out = [0u8; 32];
    argon
        .hash_password_into(password, salt, &mut out)
        .map_err(|e| Error::corrupt(format!("cannot derive key ({e})"), "keys/"))?;
    Ok(out)
}
