"""One widget per position of a widget set, in the `widgets` group (named, not by id).

Written as Infrahub generators are: the SDK's tracking records what a run saves, and
deletes what an earlier run of the same target saved and this one did not.
"""

from infrahub_sdk.generator import InfrahubGenerator


class WidgetGenerator(InfrahubGenerator):
    async def generate(self, data: dict) -> None:
        widget_set = data["TestingWidgetSet"]["edges"][0]["node"]
        name = widget_set["name"]["value"]
        for position in range(1, widget_set["size"]["value"] + 1):
            widget = await self.client.create(
                kind="TestingWidget",
                data={
                    "name": f"{name}-{position}",
                    "position": position,
                    "widget_set": widget_set["id"],
                    "member_of_groups": ["widgets"],
                },
            )
            await widget.save(allow_upsert=True)
