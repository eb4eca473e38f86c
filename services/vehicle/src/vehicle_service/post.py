"""The post (VH-05, VH-09): `servicekit.post`, which license's driving licences use too. Delivery updates
come back through `POST /api/v1/vehicle-applications/post-events`."""

from servicekit.post import LOCAL_POST, LocalPost, Parcel, PostService, post_service

__all__ = ["LOCAL_POST", "LocalPost", "Parcel", "PostService", "post_service"]
