{
    "$graph": [
        {
            "class": "CommandLineTool",
            "requirements": [
                {
                    "dockerPull": "docker.io/example/mask:0.3.1",
                    "class": "DockerRequirement"
                }
            ],
            "baseCommand": "mask",
            "inputs": [
                {
                    "type": "Directory",
                    "inputBinding": {
                        "prefix": "--input"
                    },
                    "id": "#mask.cwl/input_reference"
                }
            ],
            "id": "#mask.cwl",
            "outputs": [
                {
                    "type": "Directory",
                    "outputBinding": {
                        "glob": "."
                    },
                    "id": "#mask.cwl/results"
                }
            ]
        },
        {
            "class": "Workflow",
            "label": "Sentinel-2 cloud mask",
            "doc": "Masks clouds in a staged Sentinel-2 scene",
            "requirements": [
                {
                    "coresMin": 1,
                    "coresMax": 1,
                    "ramMin": 1024,
                    "ramMax": 2048,
                    "class": "ResourceRequirement"
                }
            ],
            "inputs": [
                {
                    "type": "Directory",
                    "label": "Sentinel-2 scene",
                    "doc": "Staged STAC catalog of one Sentinel-2 item",
                    "id": "#main/input_reference"
                }
            ],
            "outputs": [
                {
                    "type": "Directory",
                    "outputSource": "#main/mask/results",
                    "id": "#main/results"
                }
            ],
            "steps": [
                {
                    "run": "#mask.cwl",
                    "in": [
                        {
                            "source": "#main/input_reference",
                            "id": "#main/mask/input_reference"
                        }
                    ],
                    "out": [
                        "#main/mask/results"
                    ],
                    "id": "#main/mask"
                }
            ],
            "id": "#main"
        }
    ],
    "cwlVersion": "v1.2"
}
