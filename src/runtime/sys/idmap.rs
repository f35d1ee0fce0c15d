//! Translating ids between the host and a container's user namespace.
//!
//! One side of a mapping (uids or gids) is what the config's
//! `uid_mappings`/`gid_mappings` say, or what the kernel shows in
//! `/proc/<pid>/uid_map` and `gid_map` ("inside outside count" lines).

use super::proc::Proc;
use crate::runtime::config::IdMap;
use crate::runtime::error::Result;

/// Which ids a mapping translates.
#[derive(Debug, Clone, Copy)]
pub enum Ids {
    Uids,
    Gids,
}

/// One side of a user namespace's id mapping. Empty, it maps nothing.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IdMapping(Vec<IdMap>);

impl IdMapping {
    /// The mapping a config's `uid_mappings` or `gid_mappings` describe.
    pub fn new(maps: &[IdMap]) -> IdMapping {
        IdMapping(maps.to_vec())
    }

    /// The mapping of the user namespace of the process `pid`, as the
    /// kernel has it (the identity for a process without one).
    pub fn of_process(proc: &Proc, pid: i32, ids: Ids) -> Result<IdMapping> {
        let file = match ids {
            Ids::Uids => "uid_map",
            Ids::Gids => "gid_map",
        };
        Ok(IdMapping::parse(&proc.read(pid, file)?))
    }

    /// The lines of a `uid_map` or `gid_map` file.
    fn parse(text: &str) -> IdMapping {
        let maps = text
            .lines()
            .filter_map(|line| {
                let mut fields = line.split_whitespace().map(str::parse::<u32>);
                match (fields.next(), fields.next(), fields.next()) {
                    (Some(Ok(container_id)), Some(Ok(host_id)), Some(Ok(size))) => Some(IdMap {
                        container_id,
                        host_id,
                        size,
                    }),
                    _ => None,
                }
            })
            .collect();
        IdMapping(maps)
    }

    /// The host id that the container's `id` is.
    pub fn to_host(&self, id: u32) -> Option<u32> {
        self.0
            .iter()
            .find(|m| id >= m.container_id && id - m.container_id < m.size)
            .map(|m| m.host_id + (id - m.container_id))
    }

    /// The container's id that the host's `id` is.
    pub fn to_container(&self, id: u32) -> Option<u32> {
        self.0
            .iter()
            .find(|m| id >= m.host_id && id - m.host_id < m.size)
            .map(|m| m.container_id + (id - m.host_id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_translate_both_ways_within_their_ranges() {
        let maps = IdMapping::parse("         0     100000      65536\n 65536 1000 1\n");
        assert_eq!(maps.to_host(0), Some(100000));
        assert_eq!(maps.to_host(65535), Some(165535));
        assert_eq!(maps.to_host(65536), Some(1000));
        assert_eq!(maps.to_host(65537), None);
        assert_eq!(maps.to_container(100001), Some(1));
        assert_eq!(maps.to_container(1000), Some(65536));
        assert_eq!(maps.to_container(0), None);
        let identity = IdMapping::parse("0 0 4294967295\n");
        assert_eq!(identity.to_host(1234), Some(1234));
        assert_eq!(identity.to_container(4294967294), Some(4294967294));
    }

    #[test]
    fn a_config_mapping_translates_as_the_kernel_file_does() {
        let map = |container_id, host_id, size| IdMap {
            container_id,
            host_id,
            size,
        };
        let maps = IdMapping::new(&[map(0, 100000, 1000), map(1000, 5000, 1)]);
        assert_eq!(maps, IdMapping::parse("0 100000 1000\n1000 5000 1\n"));
        assert_eq!(maps.to_host(999), Some(100999));
        assert_eq!(maps.to_host(1001), None);
        assert_eq!(maps.to_container(5000), Some(1000));
        assert_eq!(IdMapping::default().to_container(0), None);
    }
}
