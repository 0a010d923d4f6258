"""Infrahub's task API (`InfrahubTask`) against `infragen serve`, as the SDK and
infrahubctl use it: a `CoreGeneratorDefinitionRun` started without waiting is a task the
SDK waits for (`client.task.wait_for_completion`), and each generator run of the cascade it
starts is a `generator-run` task, with its target as related node and its log."""

from __future__ import annotations

import asyncio
import json

from conftest import ROOT, infragen

RUN = (
    "mutation Run($definition: String!, $nodes: [String]) { "
    "CoreGeneratorDefinitionRun(data: {id: $definition, nodes: $nodes}, wait_until_completion: false) "
    "{ ok task { id } } }"
)


def test_a_definition_run_is_a_task_the_sdk_waits_for_and_its_runs_are_tasks_too(serve, tmp_path):
    from infrahub_sdk.task.models import TaskFilter, TaskState

    store = tmp_path / "dc.db"
    infragen("sync", "--repository", str(ROOT), "--store", str(store))
    infragen("--store", str(store), "branch", "create", "br1")
    server = serve(ROOT, name="dc", store=store)

    async def scenario():
        client = server.client(branch="br1")

        async def start(definition_name: str, target_kind: str, target_name: str) -> tuple[str, str, str]:
            definition = await client.get(kind="CoreGeneratorDefinition", name__value=definition_name)
            target = await client.get(kind=target_kind, name__value=target_name)
            answer = await client.execute_graphql(
                query=RUN, variables={"definition": definition.id, "nodes": [target.id]}, branch_name="br1"
            )
            assert answer["CoreGeneratorDefinitionRun"]["ok"] is True, answer
            return answer["CoreGeneratorDefinitionRun"]["task"]["id"], definition.id, target.id

        # A rack before its pod: its generator's gate fails, and so does the task.
        task_id, _, rack_id = await start("generate-rack", "LocationRack", "Rack-A2-1")
        failed = await client.task.wait_for_completion(id=task_id, timeout=120)
        assert failed.state == TaskState.FAILED
        failed = (await client.task.filter(filter=TaskFilter(ids=[task_id]), include_logs=True))[0]
        assert any(
            log.severity == "error" and "run generate-pod for Pod-A2 first" in log.message for log in failed.logs
        ), failed.logs

        # The fabric, and the cascade it triggers.
        task_id, definition_id, fabric_id = await start("generate-fabric", "NetworkFabric", "Fabric-A")
        done = await client.task.wait_for_completion(id=task_id, timeout=300)
        assert done.state == TaskState.COMPLETED
        assert done.workflow == "request-generator-definition-run"
        assert done.branch == "br1"
        assert done.title == "Run generator definition generate-fabric"
        described = (
            await client.task.filter(filter=TaskFilter(ids=[task_id]), include_related_nodes=True, include_logs=True)
        )[0]
        assert [(node.id, node.kind) for node in described.related_nodes] == [
            (definition_id, "CoreGeneratorDefinition")
        ]
        assert described.logs and all(log.severity == "info" for log in described.logs), described.logs

        runs = await client.task.filter(
            filter=TaskFilter(workflow=["generator-run"], branch="br1"), include_related_nodes=True
        )
        # The rack's failed run, then the fabric's cascade: the fabric, its 3 pods and their
        # 7 racks (the first again, now that its pod is there).
        assert len(runs) == 12, [(run.title, run.state) for run in runs]
        assert await client.task.count(filters=TaskFilter(workflow=["generator-run"])) == 12
        assert sorted(run.state for run in runs).count(TaskState.COMPLETED) == 11
        fabric_runs = [run for run in runs if [node.id for node in run.related_nodes] == [fabric_id]]
        assert [(run.title, run.state, run.related_nodes[0].kind) for run in fabric_runs] == [
            ("Run generator generate-fabric on Fabric-A", TaskState.COMPLETED, "NetworkFabric")
        ]
        rack_runs = await client.task.filter(filter=TaskFilter(related_node__ids=[rack_id]), include_logs=True)
        assert [run.state for run in rack_runs] == [TaskState.COMPLETED, TaskState.FAILED]
        assert any("run generate-pod for Pod-A2 first" in log.message for log in rack_runs[1].logs)
        # Newest first, paged as asked, with the count of all.
        page = await client.execute_graphql(
            query='{ InfrahubTask(workflow: ["generator-run"], limit: 5, offset: 5) '
            "{ count edges { node { id state } } } }"
        )
        assert page["InfrahubTask"]["count"] == 12
        assert [edge["node"]["id"] for edge in page["InfrahubTask"]["edges"]] == [run.id for run in runs[5:10]]
        # Infrahub's default page is ten tasks.
        default = await client.execute_graphql(query="{ InfrahubTask { count edges { node { id } } } }")
        assert default["InfrahubTask"]["count"] == 14
        assert len(default["InfrahubTask"]["edges"]) == 10
        return task_id

    definition_task = asyncio.run(scenario())

    listed = server.infrahubctl("task", "list", "--json", "--state", "COMPLETED", "--include-related-nodes")
    tasks = json.loads(listed.stdout)
    assert len(tasks) == 12, tasks  # the fabric's definition run and its 11 runs
    # Newest first: the definition run started its runs, so it is the oldest of them.
    assert tasks[-1]["id"] == definition_task
    assert [task["created_at"] for task in tasks] == sorted((task["created_at"] for task in tasks), reverse=True)
    assert {task["workflow"] for task in tasks} == {"generator-run", "request-generator-definition-run"}
    assert all(task["state"] == "COMPLETED" for task in tasks)
