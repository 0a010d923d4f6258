//! Every gate and capacity error, with its exact message: each one names the
//! target, what is missing, and what to run or set first.

mod common;

use aidc_design::SortingMethod::{ReverseSorted, Sorted};
use aidc_design::cabling::{
    check_pod_capacity, check_rack_capacity, pod_cabling_plan, rack_cabling_plan,
};
use aidc_design::design::{
    FabricDesign, FabricOfPod, PodDesign, PodOfRack, PodSummary, RackDesign, RackSummary,
    TemplateRef,
};
use aidc_design::gates::*;
use aidc_design::{DesignError, DesignErrorKind};
use common::*;

fn template(name: &str) -> Option<TemplateRef> {
    Some(TemplateRef {
        id: format!("t-{name}"),
        kind: "TemplateNetworkDevice".into(),
        hfid: vec![name.into()],
        label: name.into(),
    })
}

fn pod_summary(name: &str, index: i64, role: &str) -> PodSummary {
    PodSummary {
        id: format!("id-{name}"),
        name: name.into(),
        index: Some(index),
        role: Some(role.into()),
    }
}

fn fabric_a() -> FabricDesign {
    FabricDesign {
        id: "id-fabric-a".into(),
        kind: "NetworkFabric".into(),
        name: "Fabric-A".into(),
        amount_of_super_spines: 6,
        fabric_sorting: ReverseSorted,
        spine_sorting: Sorted,
        template: template("super-spine-switch"),
        pods: vec![
            pod_summary("Pod-A1", 1, "fabric"),
            pod_summary("Pod-A2", 2, "cpu"),
            pod_summary("Pod-A3", 3, "cpu"),
        ],
    }
}

fn pod_a2() -> PodDesign {
    let fabric = fabric_a();
    PodDesign {
        id: "id-pod-a2".into(),
        name: "Pod-A2".into(),
        index: Some(2),
        role: Some("cpu".into()),
        amount_of_spines: 4,
        spine_sorting: Sorted,
        template: template("spine-switch"),
        fabric: Some(FabricOfPod {
            id: fabric.id,
            name: fabric.name,
            amount_of_super_spines: 6,
            fabric_sorting: ReverseSorted,
            spine_sorting: Sorted,
            pods: fabric.pods,
        }),
        racks: [2, 1, 2, 1]
            .iter()
            .enumerate()
            .map(|(i, leafs)| RackSummary {
                id: format!("id-rack-a2-{}", i + 1),
                kind: "LocationRack".into(),
                name: format!("Rack-A2-{}", i + 1),
                amount_of_leafs: *leafs,
                index: i64::try_from(i + 1).ok(),
            })
            .collect(),
    }
}

fn rack_a2_3() -> RackDesign {
    RackDesign {
        id: "id-rack-a2-3".into(),
        name: "Rack-A2-3".into(),
        index: Some(3),
        amount_of_leafs: 2,
        template: template("leaf-switch-compute"),
        pod: Some(PodOfRack {
            id: "id-pod-a2".into(),
            name: "Pod-A2".into(),
            role: Some("cpu".into()),
            amount_of_spines: 4,
            leaf_sorting: Sorted,
            spine_sorting: Sorted,
            fabric: Some("Fabric-A".into()),
        }),
    }
}

fn gate(message: &str) -> DesignError {
    DesignError::gate(message)
}

fn capacity(message: &str) -> DesignError {
    DesignError::capacity(message)
}

// ---- generate-fabric -------------------------------------------------------

#[test]
fn fabric_with_everything_in_place_passes_and_finds_its_fabric_pod() {
    let fabric = fabric_a();
    let context = fabric_gates(&fabric, true).unwrap();
    assert_eq!(context.fabric_pod.name, "Pod-A1");
    assert_eq!(context.template.label, "super-spine-switch");
}

#[test]
fn fabric_without_template_is_a_gate() {
    let fabric = FabricDesign {
        template: None,
        ..fabric_a()
    };
    assert_eq!(
        fabric_gates(&fabric, true).unwrap_err(),
        gate(
            "fabric Fabric-A: no super spine switch template (super_spine_switch_template is \
             empty); set one on the fabric, then run generate-fabric"
        )
    );
}

#[test]
fn fabric_without_or_with_two_fabric_pods_is_a_gate() {
    let mut fabric = fabric_a();
    fabric.pods.remove(0);
    assert_eq!(
        fabric_gates(&fabric, true).unwrap_err(),
        gate(
            "fabric Fabric-A: no pod with role 'fabric' to hold the super spines; add one to the \
             fabric, then run generate-fabric"
        )
    );
    let mut fabric = fabric_a();
    fabric.pods.push(pod_summary("Pod-A9", 9, "fabric"));
    assert_eq!(
        fabric_gates(&fabric, true).unwrap_err(),
        gate(
            "fabric Fabric-A: 2 pods have role 'fabric' (Pod-A1, Pod-A9); exactly one must hold \
             the super spines"
        )
    );
}

#[test]
fn fabric_without_the_seeded_supernet_pool_is_a_gate() {
    assert_eq!(
        fabric_gates(&fabric_a(), false).unwrap_err(),
        gate(
            "fabric Fabric-A: the pool FabricSupernetPool does not exist; load the seed design \
             (objects/) before running generate-fabric"
        )
    );
}

#[test]
fn super_spine_count_must_fit_the_loopback_28() {
    let fabric = FabricDesign {
        amount_of_super_spines: 15,
        ..fabric_a()
    };
    assert_eq!(
        fabric_gates(&fabric, true).unwrap_err(),
        capacity(
            "fabric Fabric-A: 15 super spines do not fit the /28 of super-spine loopbacks, which \
             holds 14 addresses"
        )
    );
    let fabric = FabricDesign {
        amount_of_super_spines: 14,
        ..fabric_a()
    };
    assert!(fabric_gates(&fabric, true).is_ok());
    let fabric = FabricDesign {
        amount_of_super_spines: 0,
        ..fabric_a()
    };
    assert_eq!(
        fabric_gates(&fabric, true).unwrap_err(),
        capacity(
            "fabric Fabric-A: amount_of_super_spines is 0; a fabric needs at least one super spine"
        )
    );
}

// ---- generate-pod ----------------------------------------------------------

#[test]
fn fabric_pod_is_skipped_with_an_info_line_not_an_error() {
    let pod = PodDesign {
        name: "Pod-A1".into(),
        role: Some("fabric".into()),
        template: None,
        ..pod_a2()
    };
    assert_eq!(
        pod_skip(&pod).as_deref(),
        Some(
            "skipping pod Pod-A1: its role is 'fabric'; its super spines are made by generate-fabric"
        )
    );
    assert_eq!(pod_skip(&pod_a2()), None);
}

#[test]
fn pod_design_gates_pass_on_the_seed_pod() {
    let pod = pod_a2();
    let context = pod_design_gates(&pod).unwrap();
    assert_eq!(context.fabric.name, "Fabric-A");
    assert_eq!(context.fabric_pod.name, "Pod-A1");
    assert_eq!(context.index, 2);
}

#[test]
fn pod_without_template_is_a_gate() {
    let pod = PodDesign {
        template: None,
        ..pod_a2()
    };
    assert_eq!(
        pod_design_gates(&pod).unwrap_err(),
        gate(
            "pod Pod-A2: no spine switch template (spine_switch_template is empty); set one on \
             the pod, then run generate-pod"
        )
    );
}

#[test]
fn pod_without_fabric_or_fabric_pod_is_a_gate() {
    let pod = PodDesign {
        fabric: None,
        ..pod_a2()
    };
    assert_eq!(
        pod_design_gates(&pod).unwrap_err(),
        gate(
            "pod Pod-A2: it belongs to no fabric (parent is empty); attach it to a fabric, then \
             run generate-fabric and generate-pod"
        )
    );
    let mut pod = pod_a2();
    if let Some(fabric) = pod.fabric.as_mut() {
        fabric.pods.retain(|p| !p.is_fabric_pod());
    }
    assert_eq!(
        pod_design_gates(&pod).unwrap_err(),
        gate(
            "pod Pod-A2: fabric Fabric-A has no pod with role 'fabric' holding its super spines; \
             add one, then run generate-fabric for Fabric-A first"
        )
    );
}

#[test]
fn pod_loopbacks_must_fit_the_27() {
    // 6 leafs in Pod-A2's racks: 24 spines fill the 30 addresses exactly.
    let mut pod = pod_a2();
    pod.amount_of_spines = 24;
    assert!(pod_design_gates(&pod).is_ok());
    pod.amount_of_spines = 25;
    assert_eq!(
        pod_design_gates(&pod).unwrap_err(),
        capacity("pod Pod-A2: 25 spines and 6 leafs need 31 loopbacks, but the pod's /27 holds 30")
    );
}

#[test]
fn pod_of_an_ungenerated_fabric_is_a_gate_naming_generate_fabric() {
    let pod = pod_a2();
    let context = pod_design_gates(&pod).unwrap();
    assert_eq!(
        pod_upstream_gates(&pod, context.fabric, 0, false).unwrap_err(),
        gate(
            "pod Pod-A2: fabric Fabric-A is not fully generated (0 of 6 super spines exist); run \
             generate-fabric for Fabric-A first"
        )
    );
    assert_eq!(
        pod_upstream_gates(&pod, context.fabric, 6, false).unwrap_err(),
        gate(
            "pod Pod-A2: fabric Fabric-A has no prefix pool (fabric-a-prefix-pool); run \
             generate-fabric for Fabric-A first"
        )
    );
    assert!(pod_upstream_gates(&pod, context.fabric, 6, true).is_ok());
}

#[test]
fn pod_index_below_two_is_a_capacity_error_not_a_wraparound() {
    let ss = side(
        &super_spines("Fabric-A", 6, &super_spine_switch()),
        "spine",
        ReverseSorted,
    );
    assert_eq!(
        check_pod_capacity("Pod-A2", 1, 4, "Fabric-A", &ss).unwrap_err(),
        capacity(
            "pod Pod-A2: index 1 cannot be cabled: pod index 2 is the first that owns super-spine \
             ports (index 1 is the fabric pod's); give the pod an index of 2 or more"
        )
    );
}

#[test]
fn pod_index_beyond_the_super_spine_ports_is_a_capacity_error() {
    let ss = side(
        &super_spines("Fabric-A", 6, &super_spine_switch()),
        "spine",
        ReverseSorted,
    );
    // 28 spine-facing ports, windows of 6: index 6 takes ports 25–28, index 7 would need 34.
    assert!(check_pod_capacity("Pod-A6", 6, 4, "Fabric-A", &ss).is_ok());
    assert_eq!(
        check_pod_capacity("Pod-A7", 7, 4, "Fabric-A", &ss).unwrap_err(),
        capacity(
            "pod Pod-A7: index 7 needs spine-facing port 34 of ss-fabric-a-1, which has only 28; \
             with 4 spines per pod the highest pod index fabric Fabric-A can cable is 6"
        )
    );
    let sp = side(&spines("Pod-A7", 4, &spine_switch()), "super_spine", Sorted);
    assert_eq!(
        pod_cabling_plan("Pod-A7", 7, "Fabric-A", &sp, &ss)
            .unwrap_err()
            .kind,
        DesignErrorKind::Capacity
    );
    // Fabric-B: 64 ports, windows of 4: index 17 is the last.
    let ss = side(
        &super_spines("Fabric-B", 4, &dell_super_spine()),
        "spine",
        Sorted,
    );
    assert!(check_pod_capacity("Pod-B17", 17, 4, "Fabric-B", &ss).is_ok());
    assert_eq!(
        check_pod_capacity("Pod-B18", 18, 4, "Fabric-B", &ss).unwrap_err(),
        capacity(
            "pod Pod-B18: index 18 needs spine-facing port 68 of ss-fabric-b-1, which has only 64; \
             with 4 spines per pod the highest pod index fabric Fabric-B can cable is 17"
        )
    );
}

#[test]
fn more_spines_than_super_spines_would_overlap_the_next_pod_and_is_refused() {
    let ss = side(
        &super_spines("Fabric-B", 4, &dell_super_spine()),
        "spine",
        Sorted,
    );
    assert_eq!(
        check_pod_capacity("Pod-B2", 2, 5, "Fabric-B", &ss).unwrap_err(),
        capacity(
            "pod Pod-B2: 5 spines do not fit the window of 4 ports each pod owns on every super \
             spine of fabric Fabric-B (one per super spine): pod index 2 would overlap the ports \
             of pod index 3; use at most 4 spines per pod"
        )
    );
    // Fabric-A has 6 super spines: a fifth spine fits.
    let ss = side(
        &super_spines("Fabric-A", 6, &super_spine_switch()),
        "spine",
        ReverseSorted,
    );
    assert!(check_pod_capacity("Pod-A2", 2, 5, "Fabric-A", &ss).is_ok());
}

// ---- generate-rack ---------------------------------------------------------

#[test]
fn rack_design_gates_pass_on_the_seed_rack() {
    let rack = rack_a2_3();
    let context = rack_design_gates(&rack).unwrap();
    assert_eq!(context.pod.name, "Pod-A2");
    assert_eq!(context.fabric, "Fabric-A");
    assert_eq!(context.index, 3);
}

#[test]
fn rack_without_template_is_a_gate() {
    let rack = RackDesign {
        template: None,
        ..rack_a2_3()
    };
    assert_eq!(
        rack_design_gates(&rack).unwrap_err(),
        gate(
            "rack Rack-A2-3: no leaf switch template (leaf_switch_template is empty); set one on \
             the rack, then run generate-rack"
        )
    );
}

#[test]
fn rack_in_the_fabric_pod_or_without_pod_is_a_gate() {
    let mut rack = rack_a2_3();
    if let Some(pod) = rack.pod.as_mut() {
        pod.name = "Pod-A1".into();
        pod.role = Some("fabric".into());
    }
    assert_eq!(
        rack_design_gates(&rack).unwrap_err(),
        gate(
            "rack Rack-A2-3: pod Pod-A1 has role 'fabric', which holds super spines and no racks; \
             attach the rack to a cpu or storage pod"
        )
    );
    let rack = RackDesign {
        pod: None,
        ..rack_a2_3()
    };
    assert_eq!(
        rack_design_gates(&rack).unwrap_err(),
        gate(
            "rack Rack-A2-3: it belongs to no pod (pod is empty); attach it to a pod, then run \
             generate-pod and generate-rack"
        )
    );
}

#[test]
fn rack_of_an_ungenerated_pod_is_a_gate_naming_generate_pod() {
    let rack = rack_a2_3();
    let context = rack_design_gates(&rack).unwrap();
    assert_eq!(
        rack_upstream_gates(&rack, &context, 2, true, true).unwrap_err(),
        gate(
            "rack Rack-A2-3: pod Pod-A2 is not fully generated (2 of 4 spines exist); run \
             generate-pod for Pod-A2 first"
        )
    );
    assert_eq!(
        rack_upstream_gates(&rack, &context, 4, false, true).unwrap_err(),
        gate(
            "rack Rack-A2-3: pod Pod-A2 has no loopback pool (fabric-a-pod-a2-loopback-pool); run \
             generate-pod for Pod-A2 first"
        )
    );
    assert_eq!(
        rack_upstream_gates(&rack, &context, 4, true, false).unwrap_err(),
        gate(
            "rack Rack-A2-3: pod Pod-A2 has no prefix pool (fabric-a-pod-a2-prefix-pool); run \
             generate-pod for Pod-A2 first"
        )
    );
    assert!(rack_upstream_gates(&rack, &context, 4, true, true).is_ok());
}

#[test]
fn rack_index_beyond_the_spine_ports_is_a_capacity_error() {
    let sp = side(&spines("Pod-A2", 4, &spine_switch()), "leaf", Sorted);
    // 27 leaf-facing ports: rack 13 with 2 leafs takes ports 25 and 26; rack 14
    // with 2 leafs would need port 28, with 1 leaf it fits on port 27.
    assert!(check_rack_capacity("Rack-A2-13", 13, 2, "Pod-A2", &sp).is_ok());
    assert!(check_rack_capacity("Rack-A2-14", 14, 1, "Pod-A2", &sp).is_ok());
    assert_eq!(
        check_rack_capacity("Rack-A2-14", 14, 2, "Pod-A2", &sp).unwrap_err(),
        capacity(
            "rack Rack-A2-14: index 14 needs leaf-facing port 28 of spine-pod-a2-1, which has \
             only 27; with 2 leaf(s) per rack the highest rack index pod Pod-A2 can cable is 13"
        )
    );
    assert_eq!(
        check_rack_capacity("Rack-A2-15", 15, 1, "Pod-A2", &sp).unwrap_err(),
        capacity(
            "rack Rack-A2-15: index 15 needs leaf-facing port 29 of spine-pod-a2-1, which has \
             only 27; with 1 leaf(s) per rack the highest rack index pod Pod-A2 can cable is 14"
        )
    );
}

#[test]
fn rack_index_below_one_and_leaf_counts_outside_the_window_are_refused() {
    let sp = side(&spines("Pod-A2", 4, &spine_switch()), "leaf", Sorted);
    assert_eq!(
        check_rack_capacity("Rack-A2-0", 0, 1, "Pod-A2", &sp).unwrap_err(),
        capacity("rack Rack-A2-0: index 0 cannot be cabled: rack indexes start at 1")
    );
    assert_eq!(
        check_rack_capacity("Rack-A2-1", 1, 3, "Pod-A2", &sp).unwrap_err(),
        capacity(
            "rack Rack-A2-1: 3 leafs do not fit the window of 2 ports each rack owns on every \
             spine of pod Pod-A2 (one per leaf); use 1 or 2 leafs"
        )
    );
    assert_eq!(
        check_rack_capacity("Rack-A2-1", 1, 0, "Pod-A2", &sp).unwrap_err(),
        capacity("rack Rack-A2-1: amount_of_leafs is 0; a rack needs 1 or 2 leafs")
    );
}

#[test]
fn a_leaf_index_outside_the_window_is_refused_not_wrapped() {
    let sp = side(&spines("Pod-A2", 4, &spine_switch()), "leaf", Sorted);
    let mut leaf = leafs("Pod-A2", 1, 1, &leaf_switch_compute());
    leaf[0].index = Some(3);
    let lf = side(&leaf, "spine", Sorted);
    assert_eq!(
        rack_cabling_plan("Rack-A2-1", 1, "Pod-A2", &lf, &sp).unwrap_err(),
        capacity(
            "rack Rack-A2-1: leaf leaf-pod-a2-1-1 has index 3; a leaf's index picks its port in \
             the rack's window of 2 and must be 1 or 2"
        )
    );
}

#[test]
fn a_template_without_exactly_one_loopback_is_a_gate() {
    let template = template("Generic Switch").unwrap();
    assert!(template_gate("pod Pod-A2", &template, 1).is_ok());
    assert_eq!(
        template_gate("pod Pod-A2", &template, 0).unwrap_err(),
        gate(
            "pod Pod-A2: template Generic Switch has 0 interfaces with role 'loopback'; a device \
             template needs exactly one, which carries the device's loopback address"
        )
    );
}
