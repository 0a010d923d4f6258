//! Cabling plans of the seed design, endpoint by endpoint, against the
//! closed-form formulas of reference §2.5 (written out here independently of
//! the library), plus literal spot checks of the reference's own example.

mod common;

use aidc_design::SortingMethod::{ReverseSorted, Sorted};
use aidc_design::cabling::{pod_cabling_plan, rack_cabling_plan};
use common::*;

/// Pod-A2 of Fabric-A: 6 super spines (`super-spine-switch`, spine-facing
/// Ethernet1–28, **reverse sorted**), 4 spines (`spine-switch`, super-spine
/// uplinks Ethernet28–32, sorted), pod index 2.
#[test]
fn pod_a2_uplink_j_of_spine_s_goes_to_super_spine_j_on_port_s_of_the_reversed_list() {
    let ss = side(
        &super_spines("Fabric-A", 6, &super_spine_switch()),
        "spine",
        ReverseSorted,
    );
    let sp = side(&spines("Pod-A2", 4, &spine_switch()), "super_spine", Sorted);
    let plan = pod_cabling_plan("Pod-A2", 2, "Fabric-A", &sp, &ss).unwrap();

    // Formula: uplink j (Ethernet28+j, j < min(5, 6)) of spine s ↔ super spine j,
    // position (2-2)*6 + s of Ethernet28..Ethernet1, i.e. Ethernet(28-s).
    let mut expected = Vec::new();
    for s in 0..4u32 {
        for j in 0..5u32 {
            expected.push(link(
                &format!("spine-pod-a2-{}", s + 1),
                &format!("Ethernet{}", 28 + j),
                &format!("ss-fabric-a-{}", j + 1),
                &format!("Ethernet{}", 28 - s),
            ));
        }
    }
    assert_eq!(endpoints(&plan), expected);
    assert_eq!(plan.links.len(), 20);
    // The reference's own example link name.
    assert_eq!(
        plan.links[0].name(),
        "spine-pod-a2-1-Ethernet28__ss-fabric-a-1-Ethernet28"
    );
    assert_eq!(
        plan.links[0].p2p_identifier(),
        "spine-pod-a2-1:Ethernet28ss-fabric-a-1:Ethernet28"
    );
    assert_eq!(
        plan.links[19].name(),
        "spine-pod-a2-4-Ethernet32__ss-fabric-a-5-Ethernet25"
    );
    // ss-fabric-a-6 gets no link: spines have 5 uplinks for 6 super spines.
    assert!(plan.links.iter().all(|l| l.dst.hostname != "ss-fabric-a-6"));
    assert_eq!(plan.notes.len(), 4);
    assert_eq!(
        plan.notes[0],
        "spine-pod-a2-1 has 5 super-spine uplink(s) for 6 super spines: ss-fabric-a-6 get(s) no \
         link from it"
    );
    // The window is 6 ports (Ethernet28..Ethernet23); 4 spines use 4 of them on
    // ss 1–5, none on ss 6.
    let idle: Vec<String> = plan.idle.iter().map(|p| p.label()).collect();
    assert_eq!(idle.len(), 5 * 2 + 6);
    assert_eq!(idle[0], "ss-fabric-a-1 Ethernet24");
    assert_eq!(idle[1], "ss-fabric-a-1 Ethernet23");
    assert_eq!(
        &idle[10..],
        [
            "ss-fabric-a-6 Ethernet28",
            "ss-fabric-a-6 Ethernet27",
            "ss-fabric-a-6 Ethernet26",
            "ss-fabric-a-6 Ethernet25",
            "ss-fabric-a-6 Ethernet24",
            "ss-fabric-a-6 Ethernet23"
        ]
    );
}

/// Pod-A3 takes the next window of 6 ports: Ethernet22 and down.
#[test]
fn pod_a3_uses_the_next_window_of_n_super_spine_ports() {
    let ss = side(
        &super_spines("Fabric-A", 6, &super_spine_switch()),
        "spine",
        ReverseSorted,
    );
    let sp = side(&spines("Pod-A3", 4, &spine_switch()), "super_spine", Sorted);
    let plan = pod_cabling_plan("Pod-A3", 3, "Fabric-A", &sp, &ss).unwrap();
    let mut expected = Vec::new();
    for s in 0..4u32 {
        for j in 0..5u32 {
            expected.push(link(
                &format!("spine-pod-a3-{}", s + 1),
                &format!("Ethernet{}", 28 + j),
                &format!("ss-fabric-a-{}", j + 1),
                &format!("Ethernet{}", 28 - 6 - s),
            ));
        }
    }
    assert_eq!(endpoints(&plan), expected);
    assert_eq!(
        plan.links[0].name(),
        "spine-pod-a3-1-Ethernet28__ss-fabric-a-1-Ethernet22"
    );
}

/// Pod-B3 of Fabric-B: 4 Dell super spines (Ethernet1/1–64, sorted), 4 Dell
/// spines (uplinks Ethernet1/33–64, sorted), pod index 3.
#[test]
fn pod_b3_cables_dell_ports_in_window_two_and_leaves_extra_uplinks_unused() {
    let ss = side(
        &super_spines("Fabric-B", 4, &dell_super_spine()),
        "spine",
        Sorted,
    );
    let sp = side(&spines("Pod-B3", 4, &dell_spine()), "super_spine", Sorted);
    let plan = pod_cabling_plan("Pod-B3", 3, "Fabric-B", &sp, &ss).unwrap();
    // Formula: uplink j (Ethernet1/(33+j), j < 4) of spine s ↔ super spine j,
    // position (3-2)*4 + s, i.e. Ethernet1/(5+s).
    let mut expected = Vec::new();
    for s in 0..4u32 {
        for j in 0..4u32 {
            expected.push(link(
                &format!("spine-pod-b3-{}", s + 1),
                &format!("Ethernet1/{}", 33 + j),
                &format!("ss-fabric-b-{}", j + 1),
                &format!("Ethernet1/{}", 5 + s),
            ));
        }
    }
    assert_eq!(endpoints(&plan), expected);
    assert_eq!(
        plan.links[0].name(),
        "spine-pod-b3-1-Ethernet1/33__ss-fabric-b-1-Ethernet1/5"
    );
    // 4 spines fill the window of 4; the idle ports are the spines' 28 unused uplinks each.
    assert_eq!(plan.idle.len(), 4 * 28);
    assert!(
        plan.idle
            .iter()
            .all(|p| p.hostname.starts_with("spine-pod-b3-"))
    );
    assert_eq!(plan.idle[0].label(), "spine-pod-b3-1 Ethernet1/37");
    assert_eq!(
        plan.notes[0],
        "spine-pod-b3-1: 28 super-spine uplink(s) stay unused (Ethernet1/37, Ethernet1/38, …, \
         Ethernet1/64): fabric Fabric-B has 4 super spines"
    );
}

/// Rack-A2-3: 2 compute leafs (spine uplinks Ethernet27–32), Pod-A2's 4
/// spines (leaf-facing Ethernet1–27), rack index 3, all sorted.
#[test]
fn rack_a2_3_leaf_l_uses_port_2r_minus_2_plus_l_minus_1_on_every_spine() {
    let sp = side(&spines("Pod-A2", 4, &spine_switch()), "leaf", Sorted);
    let lf = side(
        &leafs("Pod-A2", 3, 2, &leaf_switch_compute()),
        "spine",
        Sorted,
    );
    let plan = rack_cabling_plan("Rack-A2-3", 3, "Pod-A2", &lf, &sp).unwrap();
    // Formula: uplink j (Ethernet27+j, j < min(6, 4)) of leaf L ↔ spine j,
    // position 2*(3-1) + (L-1), i.e. Ethernet(4+L).
    let mut expected = Vec::new();
    for l in 1..=2u32 {
        for j in 0..4u32 {
            expected.push(link(
                &format!("leaf-pod-a2-3-{l}"),
                &format!("Ethernet{}", 27 + j),
                &format!("spine-pod-a2-{}", j + 1),
                &format!("Ethernet{}", 4 + l),
            ));
        }
    }
    assert_eq!(endpoints(&plan), expected);
    assert_eq!(
        plan.links[0].name(),
        "leaf-pod-a2-3-1-Ethernet27__spine-pod-a2-1-Ethernet5"
    );
    assert_eq!(
        plan.links[7].name(),
        "leaf-pod-a2-3-2-Ethernet30__spine-pod-a2-4-Ethernet6"
    );
    let idle: Vec<String> = plan.idle.iter().map(|p| p.label()).collect();
    assert_eq!(
        idle,
        [
            "leaf-pod-a2-3-1 Ethernet31",
            "leaf-pod-a2-3-1 Ethernet32",
            "leaf-pod-a2-3-2 Ethernet31",
            "leaf-pod-a2-3-2 Ethernet32"
        ]
    );
    assert_eq!(
        plan.notes,
        [
            "leaf-pod-a2-3-1: 2 spine uplink(s) stay unused (Ethernet31, Ethernet32): pod Pod-A2 \
             has 4 spines",
            "leaf-pod-a2-3-2: 2 spine uplink(s) stay unused (Ethernet31, Ethernet32): pod Pod-A2 \
             has 4 spines"
        ]
    );
}

/// Rack-B3-4 of Fabric-B: 1 Dell storage leaf (spine uplinks
/// Ethernet1/1/1–16), Pod-B3's 4 Dell spines (Ethernet1/1–32), rack index 4.
#[test]
fn rack_b3_4_single_leaf_uses_the_first_port_of_its_window_and_leaves_the_second_idle() {
    let sp = side(&spines("Pod-B3", 4, &dell_spine()), "leaf", Sorted);
    let lf = side(
        &leafs("Pod-B3", 4, 1, &dell_leaf_storage()),
        "spine",
        Sorted,
    );
    let plan = rack_cabling_plan("Rack-B3-4", 4, "Pod-B3", &lf, &sp).unwrap();
    // Formula: position 2*(4-1) + 0 = 6, i.e. Ethernet1/7.
    let expected: Vec<_> = (0..4u32)
        .map(|j| {
            link(
                "leaf-pod-b3-4-1",
                &format!("Ethernet1/1/{}", 1 + j),
                &format!("spine-pod-b3-{}", j + 1),
                "Ethernet1/7",
            )
        })
        .collect();
    assert_eq!(endpoints(&plan), expected);
    let idle: Vec<String> = plan.idle.iter().map(|p| p.label()).collect();
    assert_eq!(
        idle[..5],
        [
            "spine-pod-b3-1 Ethernet1/8",
            "spine-pod-b3-2 Ethernet1/8",
            "spine-pod-b3-3 Ethernet1/8",
            "spine-pod-b3-4 Ethernet1/8",
            "leaf-pod-b3-4-1 Ethernet1/1/5"
        ]
    );
    assert_eq!(idle.len(), 4 + 12);
    assert_eq!(
        plan.notes,
        [
            "leaf-pod-b3-4-1: 12 spine uplink(s) stay unused (Ethernet1/1/5, Ethernet1/1/6, …, \
          Ethernet1/1/16): pod Pod-B3 has 4 spines"
        ]
    );
}

/// Rack-B2-1: 2 Dell compute leafs at rack index 1.
#[test]
fn rack_b2_1_two_dell_leafs_take_ports_one_and_two() {
    let sp = side(&spines("Pod-B2", 4, &dell_spine()), "leaf", Sorted);
    let lf = side(
        &leafs("Pod-B2", 1, 2, &dell_leaf_compute()),
        "spine",
        Sorted,
    );
    let plan = rack_cabling_plan("Rack-B2-1", 1, "Pod-B2", &lf, &sp).unwrap();
    let mut expected = Vec::new();
    for l in 1..=2u32 {
        for j in 0..4u32 {
            expected.push(link(
                &format!("leaf-pod-b2-1-{l}"),
                &format!("Ethernet1/1/{}", 1 + j),
                &format!("spine-pod-b2-{}", j + 1),
                &format!("Ethernet1/{l}"),
            ));
        }
    }
    assert_eq!(endpoints(&plan), expected);
}

/// The pod's sorting dropdowns apply to rack cabling: reversed spine
/// downlinks put rack 1 on the last ports.
#[test]
fn reverse_sorted_spine_downlinks_count_from_the_last_port() {
    let sp = side(&spines("Pod-A2", 4, &spine_switch()), "leaf", ReverseSorted);
    let lf = side(
        &leafs("Pod-A2", 1, 2, &leaf_switch_compute()),
        "spine",
        ReverseSorted,
    );
    let plan = rack_cabling_plan("Rack-A2-1", 1, "Pod-A2", &lf, &sp).unwrap();
    assert_eq!(
        plan.links[0].name(),
        "leaf-pod-a2-1-1-Ethernet32__spine-pod-a2-1-Ethernet27"
    );
    assert_eq!(
        plan.links[7].name(),
        "leaf-pod-a2-1-2-Ethernet29__spine-pod-a2-4-Ethernet26"
    );
}

/// The whole seed design: every pod and rack plan together never uses a
/// port twice, and the link counts follow from the templates.
#[test]
fn the_seed_design_never_uses_a_port_twice() {
    /// A rack: index, leaf count, leaf template.
    type Rack = (i64, u32, Template);
    struct Fabric {
        name: &'static str,
        n: u32,
        ss: Template,
        ss_sorting: aidc_design::SortingMethod,
        spine: Template,
        pods: Vec<(&'static str, i64, Vec<Rack>)>,
    }
    let fabrics = [
        Fabric {
            name: "Fabric-A",
            n: 6,
            ss: super_spine_switch(),
            ss_sorting: ReverseSorted,
            spine: spine_switch(),
            pods: vec![
                (
                    "Pod-A2",
                    2,
                    vec![
                        (1, 2, leaf_switch_compute()),
                        (2, 1, leaf_switch_compute()),
                        (3, 2, leaf_switch_compute()),
                        (4, 1, leaf_switch_storage()),
                    ],
                ),
                (
                    "Pod-A3",
                    3,
                    vec![
                        (1, 2, leaf_switch_compute()),
                        (2, 1, leaf_switch_compute()),
                        (3, 1, leaf_switch_storage()),
                        (4, 1, leaf_switch_compute()),
                    ],
                ),
            ],
        },
        Fabric {
            name: "Fabric-B",
            n: 4,
            ss: dell_super_spine(),
            ss_sorting: Sorted,
            spine: dell_spine(),
            pods: vec![
                (
                    "Pod-B2",
                    2,
                    vec![
                        (1, 2, dell_leaf_compute()),
                        (2, 1, dell_leaf_compute()),
                        (3, 2, dell_leaf_compute()),
                        (4, 1, dell_leaf_compute()),
                    ],
                ),
                (
                    "Pod-B3",
                    3,
                    vec![
                        (1, 2, dell_leaf_compute()),
                        (2, 1, dell_leaf_compute()),
                        (3, 1, dell_leaf_storage()),
                        (4, 1, dell_leaf_storage()),
                    ],
                ),
            ],
        },
    ];
    let mut used = std::collections::HashSet::new();
    let mut counts = Vec::new();
    for fabric in &fabrics {
        let ss = side(
            &super_spines(fabric.name, fabric.n, &fabric.ss),
            "spine",
            fabric.ss_sorting,
        );
        let mut links = 0;
        for (pod, index, racks) in &fabric.pods {
            let spine_devices = spines(pod, 4, &fabric.spine);
            let up = side(&spine_devices, "super_spine", Sorted);
            let plan = pod_cabling_plan(pod, *index, fabric.name, &up, &ss).unwrap();
            links += plan.links.len();
            for l in &plan.links {
                assert!(used.insert(l.src.interface_id.clone()), "{}", l.name());
                assert!(used.insert(l.dst.interface_id.clone()), "{}", l.name());
            }
            let down = side(&spine_devices, "leaf", Sorted);
            for (rack_index, leaf_count, template) in racks {
                let lf = side(
                    &leafs(pod, *rack_index, *leaf_count, template),
                    "spine",
                    Sorted,
                );
                let plan =
                    rack_cabling_plan(&format!("rack-{rack_index}"), *rack_index, pod, &lf, &down)
                        .unwrap();
                links += plan.links.len();
                for l in &plan.links {
                    assert!(used.insert(l.src.interface_id.clone()), "{}", l.name());
                    assert!(used.insert(l.dst.interface_id.clone()), "{}", l.name());
                }
            }
        }
        counts.push(links);
    }
    // Fabric-A: 2 pods × 4 spines × 5 uplinks + 11 leafs × 4 spines.
    // Fabric-B: 2 pods × 4 spines × 4 super spines + 11 leafs × 4 spines.
    assert_eq!(counts, [2 * 4 * 5 + 11 * 4, 2 * 4 * 4 + 11 * 4]);
}

/// A rack's ports depend only on its own index: adding rack 5 lands on the
/// ports the formula gives, and the other racks keep theirs.
#[test]
fn adding_rack_five_uses_ports_nine_and_ten_and_moves_nobody() {
    let sp = side(&spines("Pod-A2", 4, &spine_switch()), "leaf", Sorted);
    let rack = |index: i64| {
        let lf = side(
            &leafs("Pod-A2", index, 2, &leaf_switch_compute()),
            "spine",
            Sorted,
        );
        endpoints(
            &rack_cabling_plan(&format!("Rack-A2-{index}"), index, "Pod-A2", &lf, &sp).unwrap(),
        )
    };
    let before = rack(3);
    let added = rack(5);
    assert_eq!(
        added[0],
        link(
            "leaf-pod-a2-5-1",
            "Ethernet27",
            "spine-pod-a2-1",
            "Ethernet9"
        )
    );
    assert_eq!(
        added[4],
        link(
            "leaf-pod-a2-5-2",
            "Ethernet27",
            "spine-pod-a2-1",
            "Ethernet10"
        )
    );
    assert_eq!(rack(3), before);
}

/// Pod-A2's spines (leaf-facing Ethernet1–27 of `spine-switch`, sorted)
/// with racks 1 and 3 only: the windows of racks 2, 4, 5 … are nobody's,
/// port by port on every spine; racks 1 and 3 keep Ethernet1–2 and 5–6.
#[test]
fn the_spine_ports_of_rack_indexes_no_rack_has_are_unowned() {
    let sp = side(&spines("Pod-A2", 4, &spine_switch()), "leaf", Sorted);
    let leaf_facing = sp[0].ports.len();
    assert!(leaf_facing >= 8, "{leaf_facing}");
    let unowned = aidc_design::cabling::unowned_rack_ports(&sp, &[1, 3]);
    let mut expected = Vec::new();
    for s in 1..=4 {
        for port in (3..=4).chain(7..=leaf_facing) {
            expected.push((format!("spine-pod-a2-{s}"), format!("Ethernet{port}")));
        }
    }
    let got: Vec<(String, String)> = unowned
        .iter()
        .map(|p| (p.hostname.clone(), p.interface_name.clone()))
        .collect();
    assert_eq!(got, expected);
    assert!(
        aidc_design::cabling::unowned_rack_ports(&sp, &(1..=64).collect::<Vec<_>>()).is_empty()
    );
}
