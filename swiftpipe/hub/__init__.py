"""The hubs: models and datasets from ModelScope or the Hugging Face Hub, through their own libraries."""
