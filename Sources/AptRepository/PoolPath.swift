import DebianFormat

/// Where a package file lives in the pool, shared by every distribution:
/// `pool/<component>/<prefix>/<source>/<name>_<version without epoch>_<arch>.deb`, with
/// `prefix` the source's first letter, or its first four for `lib*` sources, as in Debian.
public enum PoolPath {
    public static func of(
        component: String, source: String, package: String, version: DebianVersion, architecture: String
    )
        -> String
    {
        let prefix = source.hasPrefix("lib") && source.count > 3 ? String(source.prefix(4)) : String(source.prefix(1))
        return "pool/\(component)/\(prefix)/\(source)/\(package)_\(version.withoutEpoch)_\(architecture).deb"
    }
}
